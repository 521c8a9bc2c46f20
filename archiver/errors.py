"""The project's error tree.

Every error the archiver raises on purpose derives from :class:`ArchiverError`, so a
caller (the CLI, the daemon) can catch one type and print one clear line. Library
errors are translated at the edge with ``raise ... from exc``.

    ArchiverError
    ├── ConfigError          bad configuration value or file
    ├── HarvestError         a report could not be read
    │   ├── EmptyReportError
    │   ├── ReportTooLargeError
    │   ├── UnsupportedFormatError
    │   └── CorruptDocumentError
    ├── FetchError           a report URL could not be fetched
    ├── NetworkError         the network policy refused or could not make a connection
    │   ├── ForbiddenAddressError   (archiver.net.backend) private/loopback/metadata
    │   ├── UnresolvableHostError   (archiver.net.backend)
    │   ├── ProxyUnreachableError   (archiver.net.backend) our own proxy is down
    │   └── HostBusyError           (archiver.net.politeness) politeness wait too long
    ├── StoreError           the database or storage folder failed
    └── CaptureError         a snapshot could not be captured or stored
        └── WarcError        a WARC file could not be written or is malformed
"""

from __future__ import annotations


class ArchiverError(Exception):
    """Root of every error the archiver raises deliberately."""


class ConfigError(ArchiverError):
    """A configuration file or value is invalid."""


class HarvestError(ArchiverError):
    """A report could not be turned into citations."""


class EmptyReportError(HarvestError):
    """The report has no content at all."""


class ReportTooLargeError(HarvestError):
    """The report exceeds the configured size limit."""


class UnsupportedFormatError(HarvestError):
    """The report's bytes are not a format the archiver reads (e.g. an image or archive)."""


class CorruptDocumentError(HarvestError):
    """The report claims a format (PDF, DOCX) but its structure is broken."""


class FetchError(ArchiverError):
    """A report (or feed) URL could not be fetched."""


class NetworkError(ArchiverError):
    """A connection was refused by the network policy or could not be made. Capture
    turns these into an Exchange's failure; they only escape as errors elsewhere."""


class StoreError(ArchiverError):
    """The database or the storage folder could not be read or written."""


class CaptureError(ArchiverError):
    """A source could not be captured into a snapshot."""


class WarcError(CaptureError):
    """A WARC record or file could not be written (bad input, I/O failure, refused
    overwrite, or a body that changed while it was being written)."""
