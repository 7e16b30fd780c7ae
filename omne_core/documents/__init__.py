"""Document conversion (file → markdown with provenance) and chunking for memory."""

from .archive import extract_zip
from .chunking import DocumentChunk, chunk_document, chunks_to_records, document_to_records
from .convert import convert_file, convert_file_sync
from .converters import register_converter, unregister_converter
from .detect import DetectedType, detect_file_type
from .enrich import NO_TRANSCRIBER, OpenAITranscriber, Transcriber, describe_image
from .errors import (
    ArchiveDepthError,
    ArchiveError,
    ArchiveTooLargeError,
    ConversionCancelledError,
    ConversionTimeoutError,
    ConverterCrashedError,
    CorruptFileError,
    DocumentError,
    DocumentNotFoundError,
    EncryptedFileError,
    FileTooLargeError,
    ServiceUnavailableError,
    UnsupportedFileTypeError,
)
from .ingest import IngestedFile, IngestReport, IngestSkip, discover_files, ingest_paths
from .types import ConvertedDocument, DocumentKind, DocumentSection, SectionKind

__all__ = [
    "NO_TRANSCRIBER",
    "ArchiveDepthError",
    "ArchiveError",
    "ArchiveTooLargeError",
    "ConversionCancelledError",
    "ConversionTimeoutError",
    "ConvertedDocument",
    "DocumentChunk",
    "ConverterCrashedError",
    "CorruptFileError",
    "DetectedType",
    "DocumentError",
    "DocumentKind",
    "DocumentNotFoundError",
    "DocumentSection",
    "EncryptedFileError",
    "FileTooLargeError",
    "IngestReport",
    "IngestSkip",
    "IngestedFile",
    "OpenAITranscriber",
    "SectionKind",
    "ServiceUnavailableError",
    "Transcriber",
    "UnsupportedFileTypeError",
    "chunk_document",
    "chunks_to_records",
    "convert_file",
    "convert_file_sync",
    "describe_image",
    "detect_file_type",
    "discover_files",
    "document_to_records",
    "extract_zip",
    "ingest_paths",
    "register_converter",
    "unregister_converter",
]
