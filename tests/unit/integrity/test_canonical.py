"""RFC 8785 canonical JSON: the RFC's own examples and Appendix B number table."""

from __future__ import annotations

import json
import random
import shutil
import struct
import subprocess

import pytest

from archiver.errors import CanonicalizationError
from archiver.integrity import canonical
from archiver.integrity.canonical import canonical_json, encode_number


def test_rfc8785_section_3_2_2_example() -> None:
    source = (
        '{"numbers": [333333333.33333329, 1E30, 4.50, 2e-3, 0.000000000000000000000000001],'
        ' "string": "\\u20ac$\\u000F\\u000aA\'\\u0042\\u0022\\u005c\\\\\\"\\/",'
        ' "literals": [null, true, false]}'
    )
    expected = (
        '{"literals":[null,true,false],"numbers":[333333333.3333333,1e+30,4.5,0.002,1e-27],'
        '"string":"€$\\u000f\\nA\'B\\"\\\\\\\\\\"/"}'
    )
    assert canonical_json(json.loads(source)) == expected.encode("utf-8")


def test_rfc8785_section_3_2_3_sorting_by_utf16_code_units() -> None:
    data = {
        "€": "Euro Sign",
        "\r": "Carriage Return",
        "\ufb33": "Hebrew Letter Dalet With Dagesh",
        "1": "One",
        "😀": "Emoji: Grinning Face",
        "\u0080": "Control",
        "ö": "Latin Small Letter O With Diaeresis",
    }
    keys = list(json.loads(canonical_json(data)))
    assert keys == ["\r", "1", "\u0080", "ö", "€", "😀", "\ufb33"]


# RFC 8785 Appendix B: IEEE 754 bit pattern -> canonical text.
APPENDIX_B = [
    ("0000000000000000", "0"),
    ("8000000000000000", "0"),
    ("0000000000000001", "5e-324"),
    ("8000000000000001", "-5e-324"),
    ("7fefffffffffffff", "1.7976931348623157e+308"),
    ("ffefffffffffffff", "-1.7976931348623157e+308"),
    ("4340000000000000", "9007199254740992"),
    ("c340000000000000", "-9007199254740992"),
    ("4430000000000000", "295147905179352830000"),
    ("44b52d02c7e14af5", "9.999999999999997e+22"),
    ("44b52d02c7e14af6", "1e+23"),
    ("44b52d02c7e14af7", "1.0000000000000001e+23"),
    ("444b1ae4d6e2ef4e", "999999999999999700000"),
    ("444b1ae4d6e2ef4f", "999999999999999900000"),
    ("444b1ae4d6e2ef50", "1e+21"),
    ("3eb0c6f7a0b5ed8c", "9.999999999999997e-7"),
    ("3eb0c6f7a0b5ed8d", "0.000001"),
    ("41b3de4355555553", "333333333.3333332"),
    ("41b3de4355555554", "333333333.33333325"),
    ("41b3de4355555555", "333333333.3333333"),
    ("41b3de4355555556", "333333333.3333334"),
    ("41b3de4355555557", "333333333.33333343"),
    ("becbf647612f3696", "-0.0000033333333333333333"),
    ("43143ff3c1cb0959", "1424953923781206.2"),
]


def _double(bits: str) -> float:
    value: float = struct.unpack(">d", bytes.fromhex(bits))[0]
    return value


@pytest.mark.parametrize(("bits", "text"), APPENDIX_B)
def test_rfc8785_appendix_b_numbers(bits: str, text: str) -> None:
    assert encode_number(_double(bits)) == text
    assert canonical_json([_double(bits)]) == f"[{text}]".encode()


@pytest.mark.parametrize("bits", ["7fffffffffffffff", "7ff0000000000000", "fff0000000000000"])
def test_nan_and_infinity_are_refused(bits: str) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_json(_double(bits))


def test_integers() -> None:
    assert (
        canonical_json([0, -1, 2**53, -(2**53), 2**60])
        == b"[0,-1,9007199254740992,-9007199254740992,1152921504606847000]"
    )  # as ECMAScript prints 2**60
    with pytest.raises(CanonicalizationError, match="not exactly representable"):
        canonical_json(2**53 + 1)
    with pytest.raises(CanonicalizationError):
        canonical_json(10**400)


def test_strings_escape_only_what_json_requires() -> None:
    assert canonical_json("\u0000\u001f\u007f\u2028/é") == '"\\u0000\\u001f\u007f\u2028/é"'.encode()
    assert canonical_json('\b\f\n\r\t"\\') == b'"\\b\\f\\n\\r\\t\\"\\\\"'


@pytest.mark.parametrize(
    "value",
    [{1: "x"}, {"a": {1, 2}}, b"bytes", "\ud800", {"\udc00": 1}, object()],
)
def test_values_without_a_canonical_form_are_refused(value: object) -> None:
    with pytest.raises(CanonicalizationError):
        canonical_json(value)


def test_nested_and_empty_containers() -> None:
    data = {"b": [], "a": {}, "c": [{"z": 1, "y": (True, None)}]}
    assert canonical_json(data) == b'{"a":{},"b":[],"c":[{"y":[true,null],"z":1}]}'


@pytest.mark.skipif(shutil.which("node") is None, reason="node not installed")
def test_numbers_match_ecmascript_on_random_doubles() -> None:
    rng = random.Random(8785)
    values = [struct.unpack(">d", rng.getrandbits(64).to_bytes(8, "big"))[0] for _ in range(3000)]
    values += [rng.uniform(-1e6, 1e6) for _ in range(1000)] + [10.0**e for e in range(-30, 30)]
    values = [v for v in values if v == v and abs(v) != float("inf")]
    script = (
        "const a=JSON.parse(require('fs').readFileSync(0,'utf8'));console.log(JSON.stringify(a))"
    )
    node = subprocess.run(
        ["node", "-e", script],
        input=json.dumps([repr(v) for v in values]).replace('"', ""),
        capture_output=True,
        text=True,
        check=True,
    )
    assert canonical_json(values).decode() == node.stdout.strip()


def _slow_canonical(value: object) -> bytes:
    parts: list[str] = []
    canonical._encode(value, parts, "$")
    return "".join(parts).encode("utf-8")


def test_fast_encoder_gives_the_same_bytes_as_the_careful_one() -> None:
    # canonical_json takes a fast path (json's C string encoder, no path bookkeeping);
    # the path-tracking encoder is the reference. Random values with non-ASCII, astral
    # and control characters in strings and keys, every kind of number, deep nesting.
    rnd = random.Random(8785)
    alphabet = [chr(i) for i in range(0x80)] + ["é", "ж", "\u2028", "\ufb33", "😀", "\ue000"]

    def text() -> str:
        return "".join(rnd.choice(alphabet) for _ in range(rnd.randint(0, 12)))

    def value(depth: int = 0) -> object:
        kind = rnd.randint(0, 7 if depth < 3 else 4)
        if kind == 0:
            return text()
        if kind == 1:
            return rnd.randint(-(2**60), 2**60) if rnd.random() < 0.2 else rnd.randint(-99, 99)
        if kind == 2:
            return rnd.choice(
                [0.0, -0.0, 1.0, 1e21, 1e-7, 1e16, 0.1, 5e-324, rnd.uniform(-1e30, 1e30)]
            )
        if kind == 3:
            return rnd.choice([None, True, False])
        if kind == 4:
            return [value(depth + 1) for _ in range(rnd.randint(0, 4))]
        return {text(): value(depth + 1) for _ in range(rnd.randint(0, 5))}

    compared = 0
    for _ in range(5000):
        sample = value()
        try:
            expected: bytes | type[Exception] = _slow_canonical(sample)
        except CanonicalizationError:
            expected = CanonicalizationError
        try:
            got: bytes | type[Exception] = canonical_json(sample)
        except CanonicalizationError:
            got = CanonicalizationError
        assert got == expected, sample
        compared += expected is not CanonicalizationError
    assert compared > 4000  # most samples had a canonical form, so bytes were compared


def test_errors_from_the_fast_path_still_name_the_place() -> None:
    with pytest.raises(CanonicalizationError, match=r"\$\.a\[1\]: nan is not allowed"):
        canonical_json({"a": [1, float("nan")]})
