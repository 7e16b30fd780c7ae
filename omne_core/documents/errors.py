"""Typed errors of document conversion: every bad input maps to one subclass of `DocumentError`."""

from __future__ import annotations

from ..errors import DocumentError

__all__ = [
    "ArchiveDepthError",
    "ArchiveError",
    "ArchiveTooLargeError",
    "ConversionCancelledError",
    "ConversionTimeoutError",
    "ConverterCrashedError",
    "CorruptFileError",
    "DocumentError",
    "DocumentNotFoundError",
    "EncryptedFileError",
    "FileTooLargeError",
    "ServiceUnavailableError",
    "UnsupportedFileTypeError",
]


class DocumentNotFoundError(DocumentError):
    """The path does not exist or is not a regular file."""


class FileTooLargeError(DocumentError):
    """The file is larger than `DocumentSettings.max_file_bytes`."""


class UnsupportedFileTypeError(DocumentError):
    """No converter reads this kind of file (binary of unknown type, legacy format, ...)."""


class CorruptFileError(DocumentError):
    """The file claims a known type but cannot be parsed (truncated, malformed, ...)."""


class FileUnavailableError(DocumentError):
    """The file's content is not here: e.g. a Git LFS pointer stands where the file should be."""


class EncryptedFileError(DocumentError):
    """The file is password-protected and no password was given."""


class ConversionTimeoutError(DocumentError):
    """The converter exceeded `DocumentSettings.per_file_timeout_s`; its worker was killed."""


class ConversionCancelledError(DocumentError):
    """The caller cancelled the conversion; its worker was killed."""


class ConverterCrashedError(DocumentError):
    """The converter's worker process died (native crash, out of memory)."""


class ArchiveError(DocumentError):
    """An archive broke a safety limit."""


class ArchiveTooLargeError(ArchiveError):
    """Too many members, too many uncompressed bytes, or a suspicious compression ratio (a ZIP bomb)."""


class ArchiveDepthError(ArchiveError):
    """Archives nested deeper than `DocumentSettings.max_archive_depth`."""


class ServiceUnavailableError(DocumentError):
    """A remote parser, vision model or transcriber could not be reached or failed."""
