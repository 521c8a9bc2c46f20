"""Canonical JSON (RFC 8785, JSON Canonicalization Scheme).

A signature or hash over JSON is only checkable years later if the exact bytes can be
rebuilt from the data by anyone, in any language. JCS fixes those bytes: object keys
sorted by their UTF-16 code units, no whitespace, strings with the minimal escapes
and everything else as raw UTF-8, and numbers written the way ECMAScript writes an
IEEE 754 double (``1e+30``, ``4.5``, ``0.002``, ``0`` for ``-0``).

This is a small own implementation (no extra dependency); the RFC's examples and its
Appendix B number table are the tests. Values it cannot represent faithfully (NaN,
infinities, integers that are not exact doubles, non-string keys, lone surrogates,
other Python types) are refused rather than guessed at.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from decimal import Decimal
from json.encoder import encode_basestring

from archiver.errors import CanonicalizationError

# Integers up to this size are exact doubles and print the same in ECMAScript.
_MAX_SAFE = 2**53

_ESCAPES = {
    '"': '\\"',
    "\\": "\\\\",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
}


def canonical_json(value: object) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of ``value``.

    Accepts dict (string keys), list, tuple, str, int, float, bool and None.
    """
    parts: list[str] = []
    try:
        _encode_fast(value, parts)
    except CanonicalizationError:
        # Again, slowly, for a message that says where in the value the problem is.
        parts = []
        _encode(value, parts, "$")
    text = "".join(parts)
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"string with a lone surrogate: {exc.reason}") from exc


def _encode_fast(value: object, out: list[str]) -> None:
    """The same bytes as :func:`_encode` (manifests and custody entries are encoded on
    every capture): no path bookkeeping, and json's C string encoder, whose escapes are
    exactly RFC 8785's (the two short forms and ``\\u00xx`` for other controls)."""
    if isinstance(value, str):
        out.append(encode_basestring(value))
    elif value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, int) and -_MAX_SAFE <= value <= _MAX_SAFE:
        out.append(str(value))
    elif isinstance(value, Mapping):
        keys = list(value)
        if all(isinstance(key, str) and key.isascii() for key in keys):
            keys.sort()  # ASCII: code points order as UTF-16 code units do
        else:
            raise CanonicalizationError("a key needs the careful path")
        out.append("{")
        for index, key in enumerate(keys):
            if index:
                out.append(",")
            out.append(encode_basestring(key))
            out.append(":")
            _encode_fast(value[key], out)
        out.append("}")
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode_fast(item, out)
        out.append("]")
    elif isinstance(value, float) and math.isfinite(value):
        out.append(_number_text(value))
    else:
        raise CanonicalizationError("needs the careful path")


@functools.lru_cache(maxsize=4096)
def _number_text(value: float) -> str:
    # The floats of manifests and custody entries are mostly the same few settings
    # (timeouts, intervals); -0.0 and 0.0 share a cache entry and both give "0".
    return encode_number(value)


def _encode(value: object, out: list[str], path: str) -> None:
    if value is None:
        out.append("null")
    elif value is True:
        out.append("true")
    elif value is False:
        out.append("false")
    elif isinstance(value, str):
        out.append(encode_string(value))
    elif isinstance(value, int):
        out.append(_encode_int(value, path))
    elif isinstance(value, float):
        out.append(encode_number(value, path))
    elif isinstance(value, Mapping):
        _encode_object(value, out, path)
    elif isinstance(value, list | tuple):
        out.append("[")
        for index, item in enumerate(value):
            if index:
                out.append(",")
            _encode(item, out, f"{path}[{index}]")
        out.append("]")
    else:
        raise CanonicalizationError(
            f"{path}: {type(value).__name__} has no JSON form; convert it first"
        )


def _encode_object(value: Mapping[object, object], out: list[str], path: str) -> None:
    keys: list[str] = []
    for key in value:
        if not isinstance(key, str):
            raise CanonicalizationError(f"{path}: object key {key!r} is not a string")
        keys.append(key)
    # Comparing UTF-16BE bytes compares UTF-16 code units, as RFC 8785 section 3.2.3 asks
    # (an emoji's surrogates sort before U+FB33 although its code point is higher).
    keys.sort(key=_utf16_sort_key)
    out.append("{")
    for index, key in enumerate(keys):
        if index:
            out.append(",")
        out.append(encode_string(key))
        out.append(":")
        _encode(value[key], out, f"{path}.{key}")
    out.append("}")


def _utf16_sort_key(key: str) -> bytes:
    try:
        return key.encode("utf-16-be")
    except UnicodeEncodeError as exc:
        raise CanonicalizationError(f"object key with a lone surrogate: {key!r}") from exc


def encode_string(value: str) -> str:
    """A JSON string literal with only the escapes JSON requires (RFC 8785 3.2.2.2).

    Written out by hand as the specification of what ``encode_basestring`` does in
    :func:`_encode_fast` (a test compares the two)."""
    out = ['"']
    for char in value:
        escaped = _ESCAPES.get(char)
        if escaped is not None:
            out.append(escaped)
        elif char < " ":
            out.append(f"\\u{ord(char):04x}")
        else:
            out.append(char)
    out.append('"')
    return "".join(out)


def _encode_int(value: int, path: str) -> str:
    if -_MAX_SAFE <= value <= _MAX_SAFE:
        return str(value)
    as_float = float(value) if abs(value) < 2**1024 else math.inf
    if math.isinf(as_float) or int(as_float) != value:
        raise CanonicalizationError(
            f"{path}: integer {value} is not exactly representable as an IEEE 754 double"
        )
    return encode_number(as_float, path)


def encode_number(value: float, path: str = "$") -> str:
    """ECMAScript's Number.prototype.toString for a double (RFC 8785 3.2.2.3)."""
    if math.isnan(value) or math.isinf(value):
        raise CanonicalizationError(f"{path}: {value} is not allowed in JSON")
    if value == 0:
        return "0"  # also -0
    sign = "-" if value < 0 else ""
    # repr() gives the shortest digit string that round-trips, as ECMAScript requires.
    _sign, digit_tuple, exponent = Decimal(repr(abs(value))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = exponent + k  # value = 0.digits * 10**n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = f"{digits[:n]}.{digits[n:]}"
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        mantissa = digits if k == 1 else f"{digits[0]}.{digits[1:]}"
        e = n - 1
        body = f"{mantissa}e{'+' if e >= 0 else '-'}{abs(e)}"
    return sign + body
