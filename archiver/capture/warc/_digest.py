"""Digest labels as they appear in WARC headers, and how to check them.

The archiver writes only ``sha256:<64 lowercase hex digits>``: hex is what lawyers and
``sha256sum`` print, so a digest in a WARC header can be compared by eye with one in a
manifest or certificate. Readers must also cope with files from other tools, which
write ``sha1:<base32>`` (warcio, Heritrix) or base64; :func:`digest_matches` accepts
any hashlib algorithm in hex, base32 or base64, the encodings RFC 3548 allows.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re

ALGORITHM = "sha256"

_LABEL = re.compile(r"^([A-Za-z0-9-]+):(\S+)$")


def sha256_label(hexdigest: str) -> str:
    """``sha256:<hex>`` for a hex digest (as returned by ``hashlib...hexdigest()``)."""
    return f"{ALGORITHM}:{hexdigest.lower()}"


def parse_label(label: str) -> tuple[str, bytes] | None:
    """Split a header value such as ``sha1:B32...`` into (hashlib name, raw digest).

    Returns None when the label is malformed or names an algorithm hashlib lacks, so
    the caller can report "unsupported" instead of crashing on someone else's file.
    """
    match = _LABEL.match(label.strip())
    if match is None:
        return None
    algorithm = match.group(1).lower().replace("-", "")
    if algorithm not in hashlib.algorithms_available:
        return None
    size = hashlib.new(algorithm).digest_size
    raw = _decode(match.group(2), size)
    if raw is None:
        return None
    return algorithm, raw


def _decode(value: str, size: int) -> bytes | None:
    # The label does not name its encoding; the decoded length tells which one fits.
    for decode in (_from_hex, _from_base32, _from_base64):
        try:
            raw = decode(value)
        except (binascii.Error, ValueError):
            continue
        if len(raw) == size:
            return raw
    return None


def _from_hex(value: str) -> bytes:
    return binascii.unhexlify(value)


def _from_base32(value: str) -> bytes:
    return base64.b32decode(value + "=" * (-len(value) % 8), casefold=True)


def _from_base64(value: str) -> bytes:
    # "-_" is the URL-safe alphabet some tools use; plain "+/" still decodes.
    return base64.b64decode(value + "=" * (-len(value) % 4), altchars=b"-_")


class Digester:
    """Running hash for one header: knows its algorithm so it can print the label."""

    def __init__(self, algorithm: str = ALGORITHM) -> None:
        self.algorithm = algorithm
        self._hash = hashlib.new(algorithm)

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def digest(self) -> bytes:
        return self._hash.digest()

    def label(self) -> str:
        return f"{self.algorithm}:{self.hexdigest()}"
