"""#12 findings 1 and 2: the manager cannot trade followers' money out of the vault.

The vault sets an Exchange trade guard (fills within max_mark_distance_bps of the mark,
closing ones included; its drawdown limit as an equity floor checked inside settlement)
and forbids its owner, manager, agents and the owner's other vaults as counterparties.
Invariant (the adversarial property test): whatever orders, prices and counterparties a
hostile manager picks, each settled fill moves at most distance x notional of the vault's
equity to the other side (beyond fees), and no fill against a forbidden party settles.
"""
import ape
from hypothesis import HealthCheck, given, settings, strategies as st

from tests.constants import BPS, MARKET, PRICE, REDUCE_ONLY, TICK, USDC
from tests.contracts.receipts import settled

SIZE = 10**18  # 2,000 notional


def _fund_trader(fund, exchange, who, amount=1_000_000 * USDC):
    fund(who, amount, spender=exchange)
    exchange.deposit(amount, sender=who)


def _vault_and_outsider(vault, owner, follower, outsider, deposit, fund, exchange):
    """The owner deposits 1k and a follower 9k; `outsider` trades on the Exchange with 1M."""
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    _fund_trader(fund, exchange, outsider)


def _px(bps):
    price = PRICE * (BPS + bps) // BPS
    return price - price % TICK


def test_vault__guard_and_forbidden_set_at_creation(vault, owner, manager, exchange):
    assert vault.max_mark_distance_bps() == 50
    assert exchange.trade_guard(vault) == (50, 0)
    assert exchange.forbidden_counterparty(vault, owner)
    assert exchange.forbidden_counterparty(vault, manager)


def test_settle__vault_against_its_manager__skipped_counterparty(
    vault, owner, follower, manager, deposit, fund, exchange, trade
):
    # finding 1: the agent signs the vault's buy at mark +5% while the manager sells
    deposit(vault, owner, 1_000 * USDC)
    deposit(vault, follower, 9_000 * USDC)
    _fund_trader(fund, exchange, manager)
    for price in (_px(500), PRICE):
        ok, skipped = settled(trade(vault, manager, manager, manager, True, 30 * SIZE, price=price), exchange)
        assert ok == [] and skipped == ["counterparty"]
    ok, skipped = settled(trade(manager, manager, vault, manager, False, 30 * SIZE), exchange)
    assert skipped == ["counterparty"]
    assert exchange.position(vault, MARKET)[0] == 0


def test_settle__vault_against_owner__skipped_counterparty(vault, owner, manager, deposit, fund, exchange, trade):
    deposit(vault, owner, 1_000 * USDC)
    _fund_trader(fund, exchange, owner)
    ok, skipped = settled(trade(vault, manager, owner, owner, True, SIZE), exchange)
    assert skipped == ["counterparty"]


def test_settle__accomplice_far_from_mark__skipped_mark_distance_even_closing(
    vault, owner, follower, manager, stranger, deposit, fund, exchange, trade
):
    _vault_and_outsider(vault, owner, follower, stranger, deposit, fund, exchange)  # an accomplice the vault cannot know
    ok, skipped = settled(trade(vault, manager, stranger, stranger, True, 30 * SIZE, price=_px(500)), exchange)
    assert skipped == ["mark distance"]
    ok, _ = settled(trade(vault, manager, stranger, stranger, True, SIZE, price=_px(40)), exchange)
    assert len(ok) == 1  # inside 50 bps
    # the "closing leg" at mark -5% is refused too (close-only fills are guarded as well)
    vault.set_drawdown_limit(1, sender=owner)
    vault.checkpoint(sender=stranger)
    ok, skipped = settled(trade(vault, manager, stranger, stranger, False, SIZE, price=_px(-500), maker_flags=REDUCE_ONLY), exchange)
    assert skipped == ["mark distance"]


def test_settle__accomplice_signed_by_manager_key__skipped_counterparty(
    vault, owner, manager, stranger, deposit, fund, exchange, trade
):
    deposit(vault, owner, 1_000 * USDC)
    _fund_trader(fund, exchange, stranger)
    exchange.approve_agent(manager, True, sender=stranger)  # the manager's key signs for it
    ok, skipped = settled(trade(vault, manager, stranger, manager, True, SIZE), exchange)
    assert skipped == ["counterparty"]


def test_settle__fill_past_drawdown_floor__skipped_drawdown(
    vault, owner, follower, manager, stranger, deposit, fund, exchange, trade
):
    _vault_and_outsider(vault, owner, follower, stranger, deposit, fund, exchange)
    vault.set_drawdown_limit(1, sender=owner)  # the floor sits 1 bps under today's equity
    assert 0 < vault.equity_floor() <= exchange.equity(vault)
    assert exchange.trade_guard(vault)[1] == vault.equity_floor()
    # as taker the vault pays 5 bps on 40k: its equity would end below the floor
    ok, skipped = settled(trade(stranger, stranger, vault, manager, False, 20 * SIZE), exchange)
    assert skipped == ["drawdown"]


def test_cancel_all_below_for__manager_agent_on_vault__reverts(vault, manager, exchange):
    # finding 2: the agent can no longer push the vault's nonce floor to 2**64-1
    with ape.reverts("exchange: contract floor"):
        exchange.cancel_all_below_for(vault, 2**64 - 1, sender=manager)
    assert exchange.min_nonce(vault) == 0


def test_create_vault__same_owner__vaults_forbid_each_other(create_vault, vault, exchange, stranger):
    second = create_vault(name="beta")
    assert exchange.forbidden_counterparty(second, vault)
    assert exchange.forbidden_counterparty(vault, second)
    other = create_vault(name="gamma", sender=stranger)
    assert not exchange.forbidden_counterparty(other, vault)


def test_set_mark_distance__bounds_and_event(vault, owner, manager, exchange):
    receipt = vault.set_mark_distance(20, sender=owner)
    assert receipt.events.filter(vault.MarkDistanceSet) == [vault.MarkDistanceSet(bps=20)]
    assert exchange.trade_guard(vault)[0] == 20
    for bad in (0, 101):
        with ape.reverts("vault: mark distance"):
            vault.set_mark_distance(bad, sender=owner)
    with ape.reverts("vault: not owner"):
        vault.set_mark_distance(10, sender=manager)


# ---------------------------------------------------------------- adversarial manager

ACTION = st.tuples(
    st.sampled_from(["trade", "trade", "trade", "move", "checkpoint"]),
    st.sampled_from(["manager", "owner", "accomplice", "accomplice_by_manager_key"]),
    st.booleans(),  # vault buys
    st.booleans(),  # vault is maker
    st.integers(-500, 500),  # fill price offset from mark, bps (inside the 5% band)
    st.integers(1, 40),  # size, whole units
    st.integers(-3_000, 3_000),  # mark move, bps (gaps up to 30%)
)


@settings(max_examples=8, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(actions=st.lists(ACTION, min_size=4, max_size=10))
def test_adversarial_manager__followers_loss_bounded_by_distance_x_volume(
    isolated, vault, owner, follower, manager, stranger, deposit, fund, exchange, trade, set_price, oracle, actions
):
    with isolated():
        deposit(vault, owner, 1_000 * USDC)
        deposit(vault, follower, 19_000 * USDC)
        for who in (manager, owner, stranger):
            _fund_trader(fund, exchange, who, 5_000_000 * USDC)
        exchange.approve_agent(manager, True, sender=stranger)
        sides = {"manager": (manager, manager), "owner": (owner, owner), "accomplice": (stranger, stranger),
                 "accomplice_by_manager_key": (stranger, manager)}
        distance = vault.max_mark_distance_bps()
        for kind, who, vault_buys, vault_maker, offset, units, move in actions:
            mark = oracle.price_info(MARKET)[0]
            if kind == "move":
                price = max(mark * (BPS + move) // BPS, 100 * USDC)
                set_price(price - price % TICK)
                continue
            if kind == "checkpoint":
                vault.checkpoint(sender=stranger)
                continue
            cp, cp_signer = sides[who]
            price = mark * (BPS + offset) // BPS
            price -= price % TICK
            size = units * SIZE
            before = exchange.equity(vault)
            if vault_maker:
                receipt = trade(vault, manager, cp, cp_signer, vault_buys, size, price=price)
            else:
                receipt = trade(cp, cp_signer, vault, manager, not vault_buys, size, price=price)
            ok, skipped = settled(receipt, exchange)
            if who != "accomplice":
                # owner, manager, or the manager's key: never a settled fill
                assert ok == [] and skipped == ["counterparty"]
                assert exchange.equity(vault) == before
                continue
            for fill in ok:
                assert abs(fill.price - mark) * BPS <= mark * distance
                notional = fill.price * fill.size // 10**18
                fee = fill.taker_fee if not vault_maker else 0
                rebate = fill.maker_rebate if vault_maker else 0
                loss = before - exchange.equity(vault) - fee + rebate
                # what the other side gained from the vault beyond the mark: <= distance x volume
                assert loss <= notional * distance // BPS + 1
        assert exchange.position(vault, MARKET)[0] == -sum(
            exchange.position(a, MARKET)[0] for a in (manager, owner, stranger)
        )
