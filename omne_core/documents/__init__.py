"""Document conversion (file → markdown with provenance) and chunking into records.

Ingestion (files → chunks → a memory store) sits above this package, in `omne_core.memory.ingest`."""

from .archive import extract_zip
from .chunking import DocumentChunk, chunk_document, chunks_to_records, document_to_records
from .convert import convert_file, convert_file_sync
from .converters import register_converter, unregister_converter
from .detect import DetectedType, LfsPointer, detect_file_type, read_lfs_pointer
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
    FileUnavailableError,
    ServiceUnavailableError,
    UnsupportedFileTypeError,
)
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
    "FileUnavailableError",
    "LfsPointer",
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
    "document_to_records",
    "extract_zip",
    "read_lfs_pointer",
    "register_converter",
    "unregister_converter",
]
