import time

import pytest

from offchain.client.messages import Cancel, as_int, checksum, order_from_json, order_to_json
from offchain.order import Domain, Order, address_of

KEY = "0x" + "01" * 32
DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


@pytest.mark.parametrize("value,expected", [(5, 5), ("5", 5), ("0", 0), (2**256 - 1, 2**256 - 1),
                                            (str(2**256 - 1), 2**256 - 1)])
def test_as_int__numbers_and_strings__accepted(value, expected):
    assert as_int(value) == expected


@pytest.mark.parametrize("value", [True, False, 1.5, "1.5", "-1", "", None, 2**256, "abc", "0x10", " 5", "+5",
                                   "05", "1e3", str(2**256), [1], {"n": 1}])
def test_as_int__bad_values__value_error(value):
    with pytest.raises(ValueError):
        as_int(value)


def test_order_json__round_trip_with_string_integers():
    o = Order(address_of(KEY), 1, True, 2_000_000_000, 10**18, 7, int(time.time()) + 60, 1)
    wire = order_to_json(o)
    assert all(isinstance(wire[k], str) for k in ("price", "size", "nonce"))
    assert order_from_json(wire) == o


def test_checksum__bad_mixed_case__rejected():
    good = address_of(KEY)
    assert checksum(good.lower()) == good
    bad = good[:2] + good[2:].swapcase()
    if bad != good.lower() and bad != "0x" + good[2:].upper():
        with pytest.raises(ValueError):
            checksum(bad)


def test_cancel__sign_and_recover_round_trip():
    c = Cancel(address_of(KEY), 0, (b"\x11" * 32,), int(time.time() * 1000))
    sig = c.sign(DOMAIN, KEY)
    parsed, parsed_sig = Cancel.from_json(c.to_json(sig))
    assert parsed == c and parsed.signer(DOMAIN, parsed_sig) == address_of(KEY)
    other = Cancel(c.account, 0, (), c.timestamp)
    assert other.digest(DOMAIN) != c.digest(DOMAIN)
