"""The forms a secret value takes on the wire and in files (pure functions).

A cookie that leaked does not stay plain: a page sends it in a query string
(percent-encoded, ``+`` for spaces), inside base64 (a beacon's payload, a data: URL), and
a log line may quote either. Finding the plain value only would let every such copy
through, so each secret is searched for in each of these forms.

Base64 of a secret embedded in a longer string depends on where the secret starts
relative to the 3-byte groups: for each of the three alignments only an inner run of
characters is fixed whatever surrounds the secret. Those inner runs are what is searched
(a base64 copy always contains one of them)."""

from __future__ import annotations

import base64
from urllib.parse import quote, quote_plus

# Shorter values (flags such as "1", "en_US") are not secrets worth scrubbing and would
# mangle unrelated bytes; base64 cores shorter than this are skipped for the same reason.
MIN_SECRET = 8


def _base64_cores(data: bytes, encode: object) -> set[bytes]:
    """The characters of the base64 of ``data`` that do not depend on its neighbours,
    for each of the three alignments."""
    cores: set[bytes] = set()
    assert callable(encode)
    for shift in range(3):
        encoded: bytes = encode(b"\0" * shift + data)
        # Characters covering a prefix byte are not fixed (neighbours differ): drop the
        # first ceil(shift*8/6) characters; at the end, drop padding and the character
        # that mixes the last byte with whatever follows.
        start = -(-shift * 8 // 6)
        total_bits = (shift + len(data)) * 8
        whole = total_bits // 6  # characters made only of our bytes (from the start)
        core = encoded.rstrip(b"=")[start:whole]
        if len(core) >= MIN_SECRET:
            cores.add(core)
    return cores


def forms(value: str) -> frozenset[bytes]:
    """Every byte string whose presence means ``value`` is there (plain, percent-encoded
    with upper- or lower-case hex, form-encoded, base64 and URL-safe base64)."""
    if len(value) < MIN_SECRET:
        return frozenset()
    raw = value.encode("utf-8")
    found = {raw}
    for encoded in (quote(value, safe=""), quote_plus(value, safe="")):
        found.add(encoded.encode("ascii"))
        found.add(_lower_hex(encoded).encode("ascii"))
    # A percent-encoded value encoded again (a cookie set through a query string).
    found.add(quote(quote(value, safe=""), safe="").encode("ascii"))
    found |= _base64_cores(raw, base64.b64encode)
    found |= _base64_cores(raw, base64.urlsafe_b64encode)
    return frozenset(form for form in found if len(form) >= MIN_SECRET)


def _lower_hex(encoded: str) -> str:
    parts = encoded.split("%")
    return parts[0] + "".join("%" + p[:2].lower() + p[2:] for p in parts[1:])
