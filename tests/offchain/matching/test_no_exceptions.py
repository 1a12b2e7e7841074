"""Garbage in, Rejected out: no exception ever escapes the engine's command methods."""
from hypothesis import given, settings, strategies as st

from offchain.matching import Event, Place

from .helpers import M, engine

junk = st.one_of(st.none(), st.booleans(), st.integers(-10**30, 10**30), st.floats(),
                 st.text(max_size=3), st.binary(max_size=3), st.lists(st.integers(), max_size=2),
                 st.sampled_from([0, 1, 2, 3, 6, 7, 100, 1000, 10**20]))
places = st.builds(Place, id=junk, account=junk, market=st.one_of(st.just(M), junk),
                   is_buy=junk, size=junk, price=junk, ts=junk, kind=junk, tif=junk, expiry=junk,
                   post_only=junk, reduce_only=junk, stp=junk, slippage_bps=junk,
                   slippage_ref=junk, trigger_price=junk, trail_bps=junk, trail_amount=junk)
calls = st.lists(st.one_of(
    st.tuples(st.just("place"), places),
    st.tuples(st.just("cancel"), junk, junk),
    st.tuples(st.just("amend"), junk, junk, junk, junk),
    st.tuples(st.just("set_mark"), st.one_of(st.just(M), junk), junk, junk),
), max_size=25)


@settings(max_examples=300, deadline=None)
@given(calls)
def test_engine__garbage_commands__only_events_no_exceptions(cmds):
    e = engine(band_bps=500)
    for cmd in cmds:
        if cmd[0] == "place":
            out = e.place(cmd[1])
        elif cmd[0] == "cancel":
            out = e.cancel(cmd[1], cmd[2])
        elif cmd[0] == "amend":
            out = e.amend(cmd[1], cmd[2], size=cmd[3], price=cmd[4])
        else:
            out = e.set_mark(cmd[1], cmd[2], cmd[3])
        assert isinstance(out, list) and all(isinstance(x, Event.__args__) for x in out)
    e.depth(M, 5)
    e.snapshot()


def test_engine__non_integer_time__rejected():
    e = engine()
    e.place(Place("x", "a", M, True, 100, 1000, 1))
    assert e.place(Place("y", "a", M, True, 100, 1000, 1.5))[0].reason == "invalid order"
    assert e.cancel("x", 2.0)[0].reason == "invalid order"
    assert e.amend("x", None, size=100)[0].reason == "invalid order"
    assert e.set_mark(M, 1000, "now")[0].reason == "invalid order"
    assert e.expire(1.0)[0].reason == "invalid order"
