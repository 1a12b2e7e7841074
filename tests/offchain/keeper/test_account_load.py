"""Which accounts a request makes the keeper read from chain (Gateway.account_loader, the
service's `_load_accounts`): only those of validly signed orders. Orders a client forges
for random addresses cost no RPC read and leave no account state (before, every named
account was loaded first and kept in `core.accounts` for good: a batch of 1,000 forged
orders was 1,000 snapshot reads and 1,000 permanent entries)."""

from __future__ import annotations

import pytest

from offchain.order import Order, address_of, sign_order

from .helpers import ADDR, DOMAIN, KEYS, PRICE, signed

FRESH = ["0x" + f"{10**9 + n:064x}" for n in range(30)]  # keys nobody has seen


def record_loads(k, during=None) -> list[set[str]]:
    """Give `k` a loader that does what the service's does to core (a loaded snapshot:
    collateral) and return the list of what it is asked for; `during` runs inside its
    await (chain news landing)."""
    calls: list[set[str]] = []

    async def load(accounts: set[str]) -> None:
        calls.append(set(accounts))
        if during is not None:
            during()
        for a in accounts:
            state = k.core.account(a)
            state.collateral, state.loaded = 10**13, True

    k.gateway.account_loader = load
    return calls


def order_for(account: str, nonce: int = 1) -> Order:
    """The one order these tests send, naming `account` (whoever signs it)."""
    return Order(account, 1, True, PRICE, 10**17, nonce, 2**40, 0)


def own(key: str, nonce: int = 1) -> tuple:
    o = order_for(address_of(key), nonce)
    return o, sign_order(o, DOMAIN, key), "GTC"


@pytest.mark.anyio
async def test_place__forged_orders_naming_random_accounts__nothing_loaded_nothing_kept(offline_keeper):
    k = offline_keeper()
    calls = record_loads(k)
    known = set(k.core.accounts)
    victims = [address_of(key) for key in FRESH]
    forged = [signed(0, order_for(v), key=KEYS[7]) for v in victims]
    results = await k.gateway.place_batch(forged)
    assert {r["reason"] for r in results} == {"bad signature"}
    assert calls == [] and set(k.core.accounts) == known


@pytest.mark.anyio
async def test_place__fresh_account_signing_its_own_order__loaded_once_then_admitted(offline_keeper):
    k = offline_keeper()
    calls = record_loads(k)
    mine = own(FRESH[0])
    forged = signed(0, order_for(address_of(FRESH[1])), key=KEYS[7])
    first, second = await k.gateway.place_batch([mine, forged])
    assert first["status"] == "accepted" and second["reason"] == "bad signature"
    assert calls == [{address_of(FRESH[0])}]
    (again,) = await k.gateway.place_batch([own(FRESH[0], nonce=2)])
    assert again["status"] == "accepted" and len(calls) == 1  # loaded: not read again


@pytest.mark.anyio
async def test_place__agent_revoked_while_the_account_loads__refused_not_an_agent(offline_keeper):
    k = offline_keeper()
    account = address_of(FRESH[2])
    agent = ADDR[5]
    k.core.account(account).agents.add(agent)  # the watcher's AgentSet scan: not loaded yet
    calls = record_loads(k, during=lambda: k.core.accounts[account].agents.discard(agent))
    o = order_for(account)
    (r,) = await k.gateway.place_batch([(o, sign_order(o, DOMAIN, KEYS[5]), "GTC")])
    assert calls == [{account}]
    assert r["status"] == "rejected" and r["reason"] in ("bad signature", "not an agent")
    assert k.core.seq == 0


@pytest.mark.anyio
async def test_amend__forged_for_a_random_account__nothing_loaded(offline_keeper):
    from offchain.keeper.admission import Rejection
    from offchain.wire import AmendRequest, parse_place, place_request

    k = offline_keeper()
    calls = record_loads(k)
    victim = address_of(FRESH[3])
    o = order_for(victim, nonce=2)
    place = parse_place(place_request(o, sign_order(o, DOMAIN, KEYS[7])))
    with pytest.raises(Rejection) as refused:
        await k.gateway.amend(AmendRequest(b"\x11" * 32, place, sign_order(o, DOMAIN, KEYS[7])))
    assert refused.value.reason == "bad signature"
    assert calls == [] and victim not in k.core.accounts
