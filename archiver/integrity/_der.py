"""The little DER (X.690) that RFC 3161 needs, written out so it can be read in full.

Only definite lengths and single-byte tags: that is all TimeStampReq, TimeStampResp,
CMS SignedData and TSTInfo use. Anything else is refused as malformed rather than
half understood. ``cryptography`` parses the certificates; this module only walks the
structures around them.
"""

from __future__ import annotations

from dataclasses import dataclass

from archiver.errors import TimestampError

INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
BOOLEAN = 0x01
UTF8_STRING = 0x0C
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


def context(number: int, constructed: bool = True) -> int:
    """Tag byte of ``[number]`` (context-specific class)."""
    return 0x80 | (0x20 if constructed else 0) | number


@dataclass(frozen=True)
class Node:
    """One decoded TLV: its tag, its content octets and its whole encoding."""

    tag: int
    content: bytes
    encoded: bytes

    def children(self) -> list[Node]:
        if not self.tag & 0x20:
            raise TimestampError(f"DER: tag 0x{self.tag:02x} is not constructed")
        return decode_all(self.content)

    def integer(self) -> int:
        self.expect(INTEGER)
        if not self.content:
            raise TimestampError("DER: empty INTEGER")
        return int.from_bytes(self.content, "big", signed=True)

    def oid(self) -> str:
        self.expect(OID)
        return decode_oid(self.content)

    def expect(self, tag: int) -> Node:
        if self.tag != tag:
            raise TimestampError(f"DER: expected tag 0x{tag:02x}, found 0x{self.tag:02x}")
        return self


def decode(data: bytes, offset: int = 0) -> tuple[Node, int]:
    """The TLV at ``offset`` and the offset just after it."""
    if offset + 2 > len(data):
        raise TimestampError("DER: truncated header")
    tag = data[offset]
    if tag & 0x1F == 0x1F:
        raise TimestampError("DER: multi-byte tags are not supported")
    first = data[offset + 1]
    pos = offset + 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise TimestampError("DER: indefinite length is not DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + count > len(data):
            raise TimestampError("DER: bad length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    end = pos + length
    if end > len(data):
        raise TimestampError("DER: content runs past the end of the data")
    return Node(tag, data[pos:end], data[offset:end]), end


def decode_one(data: bytes) -> Node:
    """Exactly one TLV, with nothing after it."""
    node, end = decode(data)
    if end != len(data):
        raise TimestampError(f"DER: {len(data) - end} trailing bytes")
    return node


def decode_all(data: bytes) -> list[Node]:
    nodes = []
    offset = 0
    while offset < len(data):
        node, offset = decode(data, offset)
        nodes.append(node)
    return nodes


def encode(tag: int, content: bytes) -> bytes:
    length = len(content)
    if length < 0x80:
        header = bytes([tag, length])
    else:
        size = length.to_bytes((length.bit_length() + 7) // 8, "big")
        header = bytes([tag, 0x80 | len(size)]) + size
    return header + content


def sequence(*parts: bytes) -> bytes:
    return encode(SEQUENCE, b"".join(parts))


def integer(value: int) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)  # room for the sign bit
    return encode(INTEGER, value.to_bytes(size, "big", signed=True))


def boolean(value: bool) -> bytes:
    return encode(BOOLEAN, b"\xff" if value else b"\x00")


def null() -> bytes:
    return encode(NULL, b"")


def octet_string(value: bytes) -> bytes:
    return encode(OCTET_STRING, value)


def oid(dotted: str) -> bytes:
    arcs = [int(part) for part in dotted.split(".")]
    if len(arcs) < 2:
        raise ValueError(f"OID needs two arcs at least: {dotted}")
    body = bytearray()
    for arc in [arcs[0] * 40 + arcs[1], *arcs[2:]]:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return encode(OID, bytes(body))


def decode_oid(content: bytes) -> str:
    if not content or content[-1] & 0x80:
        raise TimestampError("DER: malformed OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    for byte in content:
        value = (value << 7) | (byte & 0x7F)
        if not byte & 0x80:
            arcs.append(value)
            value = 0
    first = min(arcs[0] // 40, 2)
    return ".".join(str(a) for a in [first, arcs[0] - 40 * first, *arcs[1:]])
