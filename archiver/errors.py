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
    │   └── FeedError        a report feed could not be read or parsed
    ├── NetworkError         the network policy refused or could not make a connection
    │   ├── ForbiddenAddressError   (archiver.net.backend) private/loopback/metadata
    │   ├── UnresolvableHostError   (archiver.net.backend)
    │   ├── ProxyUnreachableError   (archiver.net.backend) our own proxy is down
    │   └── HostBusyError           (archiver.net.politeness) politeness wait too long
    ├── StoreError           the database or storage folder failed
    │   └── DiskFullError    no space left (file system full, quota, PostgreSQL's disk)
    ├── CaptureError         a snapshot could not be captured or stored
    │   └── WarcError        a WARC file could not be written or is malformed
    ├── AccessError          a web access token could not be created, found or revoked
    └── IntegrityError       manifests, signatures, timestamps, custody log
        ├── CanonicalizationError   a value has no RFC 8785 canonical JSON form
        ├── KeyStoreError           signing keys missing, unreadable or too open
        ├── TimestampError          an RFC 3161 response is malformed or does not verify
        └── CustodyError            the custody log could not be appended to
    NotifyError              (re-check) a webhook or e-mail notification was not delivered
    QueueError               the work queue (procrastinate on PostgreSQL) refused or failed
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


class DiskFullError(StoreError):
    """No space left where the archiver writes: the storage folder's file system (or
    quota) is full, or the PostgreSQL server's disk (archiver.store.space)."""


class CaptureError(ArchiverError):
    """A source could not be captured into a snapshot."""


class WarcError(CaptureError):
    """A WARC record or file could not be written (bad input, I/O failure, refused
    overwrite, or a body that changed while it was being written)."""


class IntegrityError(ArchiverError):
    """Evidence integrity machinery failed: manifest, signature, timestamp or custody."""


class CanonicalizationError(IntegrityError):
    """A value cannot be written as RFC 8785 canonical JSON (NaN, a non-string key,
    an integer that is not an exact double, a type JSON does not have)."""


class KeyStoreError(IntegrityError):
    """A signing key is missing, unreadable, does not match its fingerprint, or its
    file is readable by other users."""


class TimestampError(IntegrityError):
    """An RFC 3161 time-stamp response is malformed, refused, or does not match the
    request (imprint, nonce, signature)."""


class CustodyError(IntegrityError):
    """The custody log could not be appended to or read."""


class NotifyError(ArchiverError):
    """A notification (webhook POST, e-mail) could not be delivered; it is retried."""


class AccessError(ArchiverError):
    """A web access token could not be created, found or revoked (archiver.web.tokens)."""


class FeedError(FetchError):
    """A report feed could not be read or parsed (archiver.harvest.feeds)."""


class QueueError(ArchiverError):
    """The work queue (procrastinate on PostgreSQL, archiver.queue) could not be set up,
    reached, or given a task."""
