"""offchain.wire's JSON codec: msgspec is the fast path, the stdlib parser the rule.

decode_json must accept exactly what json.loads(..., parse_constant=refuse) accepts, with
the same values, and refuse the rest with a WireError; encode_json must give text that
parses back to the value json.dumps would have written."""

import json
import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.wire import WireError, decode_json, encode_json


def _stdlib(raw):
    def refuse(name):
        raise ValueError(name)

    # the wire rule: bytes are UTF-8 text (json.loads(bytes) would also take UTF-16/32 and a BOM)
    return json.loads(raw if isinstance(raw, str) else raw.decode("utf-8"), parse_constant=refuse)


def _same(a, b) -> bool:
    """Equal, with NaN equal to itself and types compared (1 is not 1.0, True is not 1)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    return a == b


@pytest.mark.parametrize("raw", [
    b'"\\ud800"', '"\\udfff tail"', b'{"k\\ud800": 1}',  # lone surrogate escapes: values, as before
    b"1e400", b"-1e400", b"[1e999]",  # out of float range: the stdlib's inf
    b"1" * 400, b"-" + b"9" * 200,  # big integers msgspec will not read
    '"\ud800"',  # a str holding a lone surrogate (not an escape)
])
def test_decode__inputs_msgspec_refuses__the_stdlib_value(raw):
    assert _same(decode_json(raw), _stdlib(raw))


@pytest.mark.parametrize("raw", [b"", b"not json", b"NaN", b'{"orders": Infinity}', b"-Infinity", b"\xff\xfe",
                                 b'"\xed\xa0\x80"', b"\xef\xbb\xbf{}", '{"a": 1}'.encode("utf-16"),
                                 '{"a": 1}'.encode("utf-32"),  # not UTF-8: a surrogate in the bytes, a BOM
                                 b'{"a": 1} x', b'"\x01"', b"1" * 5000, "[" * 40])
def test_decode__not_json__wire_error_with_reason(raw):
    with pytest.raises(WireError, match="^body is not JSON: ."):
        decode_json(raw)
    with pytest.raises((ValueError, RecursionError)):
        _stdlib(raw)


@pytest.mark.parametrize("raw", [b"[" * 33 + b"]" * 33, "{\"a\":" * 33 + "1" + "}" * 33])
def test_decode__nested_deeper_than_32__wire_error_before_any_parser(raw):
    with pytest.raises(WireError, match="nested deeper than 32"):
        decode_json(raw)
    assert decode_json(b'"' + b'[[[[' * 40 + b'"') == "[[[[" * 40  # brackets inside strings do not count


def _json(floats):
    return st.recursive(
        st.none() | st.booleans() | st.integers(-(2**400), 2**400) | floats
        | st.text(st.characters(codec=None), max_size=8),  # surrogates included
        lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4),
        max_leaves=12)


JSON = _json(st.floats(allow_nan=False))  # json.dumps writes inf as Infinity: decode must refuse it


@settings(max_examples=300, derandomize=True, deadline=None)
@given(value=JSON, as_bytes=st.booleans(), ascii_only=st.booleans())
def test_decode__any_json_text__same_values_as_the_stdlib(value, as_bytes, ascii_only):
    text = json.dumps(value, ensure_ascii=ascii_only)
    raw = text.encode("utf-8", "surrogatepass") if as_bytes else text
    try:
        expected = _stdlib(raw)
    except ValueError:
        with pytest.raises(WireError):
            decode_json(raw)
        return
    assert _same(decode_json(raw), expected)


@settings(max_examples=300, derandomize=True, deadline=None)
@given(value=_json(st.floats(allow_nan=False, allow_infinity=False)))
def test_encode__any_value__parses_back_as_json_dumps_wrote_it(value):
    text = encode_json(value)
    assert _same(json.loads(text), json.loads(json.dumps(value)))


def test_encode__non_finite_float__null_not_the_stdlibs_invalid_nan():
    assert encode_json({"x": math.inf, "y": math.nan}) == '{"x":null,"y":null}'


def test_encode__keys_msgspec_refuses__stdlib_text():
    value = {True: 1, None: 2, 1.5: 3, "s": "\ud800"}
    assert encode_json(value) == json.dumps(value, separators=(",", ":"))


def test_encode__not_encodable__type_error():
    with pytest.raises(TypeError):
        encode_json({"x": object()})
