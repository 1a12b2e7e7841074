"""Order nonces (offchain/nonces.py): never repeated, and single-fill orders packed 256 to a
bitmap word (the chain's word `nonce >> 8`), so only one of each 256 pays the fresh word
(22.1k gas) however an account mixes them with ordinary orders."""

from hypothesis import given, settings
from hypothesis import strategies as st

from offchain.client.sdk import Trader
from offchain.nonces import WORD, OrderNonces
from offchain.order import ONE_FILL


def test_one_fill__consecutive_in_a_word_above_the_counter():
    n = OrderNonces(1_000)
    assert [n.ordinary(), n.ordinary()] == [1_000, 1_001]
    assert [n.one_fill() for _ in range(3)] == [1_024, 1_025, 1_026]
    assert n.ordinary() == 1_280  # ordinary orders skip the reserved word
    assert n.one_fill() == 1_027  # single-fill orders keep filling it


def test_one_fill__word_used_up__next_word_after_the_ordinary_counter():
    n = OrderNonces(0)
    assert [n.one_fill() for _ in range(WORD)] == list(range(WORD))
    n.ordinary()  # 256
    assert n.one_fill() == 2 * WORD


@settings(max_examples=60, derandomize=True)
@given(st.integers(0, 2**64), st.lists(st.booleans(), max_size=700))
def test_nonces__any_mix__unique_increasing_per_kind_and_words_dense(first, kinds):
    n = OrderNonces(first)
    got = [(one, n.take(one)) for one in kinds]
    values = [v for _, v in got]
    assert len(set(values)) == len(values) and min(values, default=first) >= first
    for kind in (True, False):
        mine = [v for one, v in got if one is kind]
        assert mine == sorted(mine)
    single = [v for one, v in got if one]
    words = {v // WORD for v in single}
    assert len(words) == -(-len(single) // WORD)  # as few words as the count needs
    assert not words & {v // WORD for one, v in got if not one}  # no word shared with ordinary orders


def test_sdk_trader__one_fill_orders__share_a_word_ordinary_ones_do_not_enter_it():
    t = Trader("0x" + "11" * 32)
    ordinary = t.order(1, True, 2_000 * 10**6, 10**17)
    singles = [t.order(1, True, 2_000 * 10**6, 10**17, flags=ONE_FILL) for _ in range(3)]
    after = t.order(1, True, 2_000 * 10**6, 10**17)
    assert len({o.nonce // WORD for o in singles}) == 1
    assert [o.nonce - singles[0].nonce for o in singles] == [0, 1, 2] and singles[0].nonce % WORD == 0
    assert ordinary.nonce < singles[0].nonce and after.nonce // WORD > singles[0].nonce // WORD
    assert t.order(1, True, 1, 1, nonce=7, flags=ONE_FILL).nonce == 7  # an explicit nonce is kept
