"""Share and profit-share arithmetic under hypothesis while the vault trades at a profit
AND at a loss, against an exact Python model.

Hypothesis draws sequences of steps. The vault's Exchange equity moves through real fills
(`Exchange.settle`, orders signed by the manager's agent against a funded taker, at
prices off the mark so a fill itself can gain or lose) and oracle mark moves, in both
directions, between deposits, instant and queued withdrawals and claims; each sequence
ends with a drain (the keeper closes the position, the queue is claimed, everybody
withdraws everything). After every step:

- shares, high-water marks, supply, pending shares and the queue equal the model's;
- the vault's Exchange equity equals the model's (collateral, position, cost basis,
  realised PnL and maker rebates replayed with the Exchange's own rounding);
- every USDC unit is accounted for: vault idle + Exchange equity + paid out (depositors
  and manager) == deposited + trading PnL;
and on every payout (instant withdrawal or claim):
- the depositor's payout and the manager's fee equal the model's to the unit, and the
  Withdraw / WithdrawalClaimed event carries them;
- the fee is 0 when the gross value is at or below the basis (the depositor's high-water
  mark for those shares) and exactly (value - basis) * bps // 10000 above it;
- the gross value is at most the shares' exact pro-rata value (no virtual shares, no
  rounding) + 1 unit, where each holder's value follows its deposits and its pro-rata
  share of every gain and loss (so after a loss it is the share of what is left);
- cumulatively, a depositor receives at most their deposits + their pro-rata PnL
  (+ the rounding other payouts left in the vault) + 1 unit per payout.
"""
from fractions import Fraction
from types import SimpleNamespace

import ape
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from tests.constants import BPS, IM_BPS, LOT, ONE, PRICE, TICK, USDC, VAULT_STACK
from tests.contracts.receipts import settled

MAX_MARK_DISTANCE_BPS = 100  # Vault.vy

VIRTUAL_SHARES = 10**6
LOW, HIGH = PRICE * 7 // 10, PRICE * 13 // 10  # the mark stays in [1400, 2600]
STATS = {
    "gain": 0, "loss": 0, "instant": 0, "queued": 0, "claimed": 0, "capped": 0, "refused": 0, "fee": 0,
    "below_basis": 0,
}


def tdiv(a, b):
    """EVM / Vyper signed division: truncates toward zero."""
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


class Account:
    """The vault's Exchange account (one market), with Exchange.vy's rounding."""

    def __init__(self, mark):
        self.mark = mark
        self.coll = 0
        self.size = 0
        self.cost = 0
        self.realised = 0
        self.rebates = 0

    def unrealised(self, mark=None):
        return tdiv(self.size * (mark or self.mark), ONE) - self.cost if self.size else 0

    def equity(self, mark=None):
        return self.coll + self.unrealised(mark)

    def requirement(self, mark=None):
        notional = abs(self.size) * (mark or self.mark) // ONE
        return (notional * IM_BPS + BPS - 1) // BPS

    def available(self):
        # Vault._available: min(free collateral, collateral), 0 if negative (idle is 0)
        return max(min(self.equity() - self.requirement(), self.coll), 0)

    def trading_pnl(self):
        return self.realised + self.rebates + self.unrealised()

    def trade(self, delta, price):
        """Exchange._trade for the maker side, plus the maker rebate."""
        notional = price * abs(delta) // ONE
        cash = notional if delta < 0 else -notional
        size, cost = self.size, self.cost
        if size == 0 or (size > 0) == (delta > 0):
            new_cost, pnl = cost - cash, 0
        else:
            if abs(delta) <= abs(size):
                new_cost = cost - tdiv(cost * abs(delta), abs(size))
            else:
                opened = price * (abs(delta) - abs(size)) // ONE
                new_cost = -opened if delta < 0 else opened
            pnl = cash + new_cost - cost
        rebate = notional * VAULT_STACK.maker_rebate_bps // BPS  # <= the taker's fee (5 bps, rounded up)
        self.size, self.cost = size + delta, new_cost
        self.coll += pnl + rebate
        self.realised += pnl
        self.rebates += rebate


class Vault:
    """Vault.vy's share, high-water-mark, profit-share and queue arithmetic."""

    def __init__(self, psb, account):
        self.psb = psb
        self.acct = account
        self.supply = 0
        self.pending = 0
        self.bal = [0, 0, 0]
        self.hwm = [0, 0, 0]
        self.queue = {}  # id -> [who, shares, value, basis]
        self.head = 0
        self.tail = 0

    def total_assets(self):
        return max(self.acct.equity(), 0)  # idle USDC stays 0: payouts are pulled exactly

    def to_shares(self, assets):
        return assets * (self.supply + VIRTUAL_SHARES) // (self.total_assets() + 1)

    def to_assets(self, shares):
        return shares * (self.total_assets() + 1) // (self.supply + VIRTUAL_SHARES)

    def fee(self, gross, basis):
        return 0 if gross <= basis else (gross - basis) * self.psb // BPS

    def deposit(self, i, amount):
        shares = self.to_shares(amount)
        if shares:
            self.bal[i] += shares
            self.supply += shares
            self.hwm[i] += amount
            self.acct.coll += amount
        return shares

    def withdraw(self, i, shares):
        """-> ("instant", value, basis, fee) or ("queued", request_id, value, basis)."""
        value = self.to_assets(shares)
        basis = self.hwm[i] * shares // self.bal[i]
        self.hwm[i] -= basis
        self.bal[i] -= shares
        if self.head == self.tail and self.acct.available() >= value:
            fee = self.fee(value, basis)
            self.supply -= shares
            self.acct.coll -= value
            return "instant", value, basis, fee
        rid = self.tail
        self.queue[rid] = [i, shares, value, basis]
        self.tail += 1
        self.pending += shares
        return "queued", rid, value, basis

    def claim_value(self):
        _, shares, value, _ = self.queue[self.head]
        return min(value, self.to_assets(shares))

    def claim(self):
        """-> (request_id, who, shares, value, basis, fee); the caller checked liquidity."""
        rid = self.head
        value = self.claim_value()  # the request's shares are still in supply here
        who, shares, _, basis = self.queue.pop(rid)
        fee = self.fee(value, basis)
        self.supply -= shares
        self.pending -= shares
        self.head += 1
        self.acct.coll -= value
        return rid, who, shares, value, basis, fee


SETTINGS = settings(
    max_examples=20,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

step = st.one_of(
    st.tuples(st.just("deposit"), st.integers(0, 2), st.integers(1, 20_000 * USDC)),
    st.tuples(st.just("trade"), st.booleans(), st.integers(1, 20_000), st.integers(-400, 400)),
    st.tuples(st.just("mark"), st.integers(-1_500, 1_500)),
    st.tuples(st.just("withdraw"), st.integers(0, 2), st.one_of(st.integers(1, 100), st.integers(60, 100))),
    st.tuples(st.just("claim"), st.booleans(), st.integers(-400, 400)),
)


class Run:
    """One example: the chain, the model, and the exact pro-rata bookkeeping."""

    def __init__(self, fx, psb, first):
        self.fx = fx
        self.who = [fx.owner, fx.follower, fx.follower2]
        self.vault = fx.create_vault(profit_share_bps=psb, min_owner_stake_bps=0, lockup=0,
                                     drawdown_limit_bps=10_000)  # no equity floor: every fill settles
        # the widest trade guard a vault allows (fills within 1% of mark; see trade())
        self.vault.set_mark_distance(MAX_MARK_DISTANCE_BPS, sender=fx.owner)
        self.model = Vault(psb, Account(fx.oracle.price_info(1)[0]))
        self.deposited = [0, 0, 0]
        self.gross = [0, 0, 0]  # gross value paid out per depositor (payout + fee)
        self.payouts = [0, 0, 0]
        self.net_paid = 0  # USDC that left the vault: depositors + manager
        # exact pro-rata value of each holder: depositors 0..2 and queued requests ("q", id)
        self.fair = {}
        # deposits + pro-rata PnL + the rounding others' payouts left in the vault
        self.entitled = [Fraction(0)] * 3
        self.pnl_seen = 0
        self.manager_before = fx.usdc.balanceOf(fx.manager)
        self.received_before = [fx.usdc.balanceOf(w) for w in self.who]
        self.deposit(0, first)
        self.check(full=True)

    # ---------------------------------------------------------------- bookkeeping

    def _owner_of(self, key):
        return key if isinstance(key, int) else self.model.queue[key[1]][0]

    def _spread(self, amount):
        """Share `amount` (a gain, a loss, or rounding left in the vault) pro rata over
        everything still held (a partial leaver's remaining shares included)."""
        holders = {k: v for k, v in self.fair.items() if v > 0}
        total = sum(holders.values())
        if not total or not amount:
            return
        for k, v in holders.items():
            part = Fraction(amount) * v / total
            self.fair[k] += part
            self.entitled[self._owner_of(k)] += part

    def _sync_pnl(self):
        pnl = self.model.acct.trading_pnl()
        delta, self.pnl_seen = pnl - self.pnl_seen, pnl
        if delta:
            STATS["gain" if delta > 0 else "loss"] += 1
        self._spread(delta)

    def _paid(self, i, key, share_fraction, value, basis, fee, event, received, fee_received):
        # exact payout and fee, on chain and in the event
        assert event.assets == value - fee and event.fee == fee
        assert received == value - fee and fee_received == fee
        # the profit-share rule, spelled out
        if value <= basis:
            assert fee == 0
            STATS["below_basis"] += 1
        else:
            assert fee == (value - basis) * self.model.psb // BPS
            STATS["fee"] += fee > 0
        # never more than the exact pro-rata value of the shares (+1 unit rounding)
        fair = self.fair[key] * share_fraction
        assert value <= fair + 1, (value, float(fair))
        self.fair[key] -= fair
        if not self.fair[key]:
            del self.fair[key]
        self.gross[i] += value
        self.payouts[i] += 1
        self.net_paid += value
        # what rounding (or the min(request, claim) rule) left in the vault belongs to
        # the shares still held
        if fair > value:
            self._spread(fair - value)
        # cumulatively: deposits + pro-rata PnL (+ others' rounding) + 1 unit per payout,
        # less the value still held
        held = sum(v for k, v in self.fair.items() if self._owner_of(k) == i)
        assert self.gross[i] <= self.entitled[i] + self.payouts[i]
        assert self.gross[i] + held <= self.entitled[i] + self.payouts[i]

    # ---------------------------------------------------------------- steps

    def deposit(self, i, amount):
        fx = self.fx
        expect = self.model.to_shares(amount)
        if expect == 0:
            fx.fund(self.who[i], amount, spender=self.vault)
            with ape.reverts("vault: zero shares"):
                self.vault.deposit(amount, sender=self.who[i])
            return
        receipt = fx.deposit(self.vault, self.who[i], amount)
        assert self.model.deposit(i, amount) == expect
        assert receipt.events.filter(self.vault.Deposit)[0].shares == expect
        assert self.vault.balanceOf(self.who[i]) == self.model.bal[i]
        assert self.vault.hwm(self.who[i]) == self.model.hwm[i]
        self.deposited[i] += amount
        self.fair[i] = self.fair.get(i, Fraction(0)) + amount
        self.entitled[i] += amount

    def mark(self, move_bps):
        acct = self.model.acct
        while move_bps:
            new = min(max(acct.mark * (BPS + move_bps) // BPS, LOW), HIGH)
            new -= new % TICK
            # keep the account above initial margin (no bad debt, no liquidation)
            if acct.equity(new) > acct.requirement(new):
                break
            move_bps = int(move_bps / 2)
        else:
            return
        self.fx.set_price(new)
        acct.mark = new
        self._sync_pnl()

    def trade(self, buy, lots, off_bps):
        fx, acct = self.fx, self.model.acct
        # the vault's trade guard admits fills at most MAX_MARK_DISTANCE_BPS from the mark
        off_bps = max(-MAX_MARK_DISTANCE_BPS, min(MAX_MARK_DISTANCE_BPS, off_bps))
        price = acct.mark * (BPS + off_bps) // BPS
        # round to the tick towards the mark: rounding a price below the mark down would
        # put it past the guard's distance at the edge (off_bps = -MAX_MARK_DISTANCE_BPS)
        price = price - price % TICK if off_bps >= 0 else -(-price // TICK) * TICK
        delta = lots * LOT if buy else -lots * LOT
        new_size = acct.size + delta
        reducing = new_size == 0 or ((acct.size > 0) == (new_size > 0) and abs(new_size) < abs(acct.size))
        if not reducing:
            # at most 5x the equity in notional (initial margin is 10%), so large
            # withdrawals queue; `mark` keeps the account above initial margin
            cap = max(acct.equity(), 0) * 5 * ONE // acct.mark // LOT * LOT
            if abs(new_size) > cap:
                new_size = cap if new_size > 0 else -cap
                delta = new_size - acct.size
                if delta == 0 or (delta > 0) != buy:
                    return
        receipt = fx.trade(self.vault, fx.manager, fx.taker, fx.taker, delta > 0, abs(delta), price=price)
        ok, skipped = settled(receipt, fx.exchange)
        assert len(ok) == 1 and not skipped, skipped
        acct.trade(delta, price)
        self._sync_pnl()

    def withdraw(self, i, pct):
        fx, vault, who = self.fx, self.vault, self.who[i]
        shares = self.model.bal[i] * pct // 100
        if not shares:
            return
        bal, hwm = vault.balanceOf(who), vault.hwm(who)
        before, mgr = fx.usdc.balanceOf(who), fx.usdc.balanceOf(fx.manager)
        receipt = vault.withdraw(shares, sender=who)
        result = self.model.withdraw(i, shares)
        assert vault.balanceOf(who) == self.model.bal[i] and vault.hwm(who) == self.model.hwm[i]
        share_fraction = Fraction(shares, bal)
        if result[0] == "instant":
            _, value, basis, fee = result
            assert basis == hwm * shares // bal
            assert receipt.events.filter(vault.WithdrawalQueued) == []
            STATS["instant"] += 1
            self._paid(
                i, i, share_fraction, value, basis, fee, receipt.events.filter(vault.Withdraw)[0],
                fx.usdc.balanceOf(who) - before, fx.usdc.balanceOf(fx.manager) - mgr,
            )
        else:
            _, rid, value, basis = result
            assert basis == hwm * shares // bal
            assert receipt.events.filter(vault.Withdraw) == []
            assert receipt.events.filter(vault.WithdrawalQueued) == [
                vault.WithdrawalQueued(request_id=rid, depositor=who.address, shares=shares, value=value, basis=basis)
            ]
            assert fx.usdc.balanceOf(who) == before
            STATS["queued"] += 1
            # the escrowed shares carry their part of the holder's value (and later PnL)
            part = self.fair[i] * share_fraction
            self.fair[i] -= part
            if not self.fair[i]:
                del self.fair[i]
            self.fair[("q", rid)] = part

    def claim(self, close, off_bps):
        fx, vault, model, acct = self.fx, self.vault, self.model, self.model.acct
        if model.head == model.tail:
            return
        if close and acct.size:
            # the keeper closes the position (at a gain or a loss) to free collateral
            self.trade(acct.size < 0, abs(acct.size) // LOT, off_bps)
        rid = model.head
        if acct.available() < model.claim_value():
            with ape.reverts("vault: insufficient liquidity"):
                vault.claim(rid, sender=fx.taker)
            STATS["refused"] += 1
            return
        if model.claim_value() < model.to_assets(model.queue[rid][1]):
            STATS["capped"] += 1  # worth more now than at request: paid the request's value
        i = model.queue[rid][0]
        who = self.who[i]
        assert vault.requests(rid).basis == model.queue[rid][3]
        before, mgr = fx.usdc.balanceOf(who), fx.usdc.balanceOf(fx.manager)
        receipt = vault.claim(rid, sender=fx.taker)
        rid_, i_, shares, value, basis, fee = model.claim()
        assert (rid_, i_) == (rid, i)
        STATS["claimed"] += 1
        self._paid(
            i, ("q", rid), 1, value, basis, fee, receipt.events.filter(vault.WithdrawalClaimed)[0],
            fx.usdc.balanceOf(who) - before, fx.usdc.balanceOf(fx.manager) - mgr,
        )

    def drain(self, off_bps):
        """The keeper closes the position, the queue is claimed, everybody leaves."""
        acct = self.model.acct
        if acct.size:
            self.trade(acct.size < 0, abs(acct.size) // LOT, off_bps)
            self.check()
        while self.model.head < self.model.tail:
            self.claim(False, 0)
            self.check()
        for i in range(3):
            if self.model.bal[i]:
                self.withdraw(i, 100)
                self.check()
        self.check(full=True)
        assert self.model.supply == 0 and self.vault.totalSupply() == 0 and not self.fair

    # ---------------------------------------------------------------- after every step

    def check(self, full=False):
        """After every step; `full` also re-reads every depositor's shares, high-water
        mark and USDC (the steps read those of the depositor they touch)."""
        fx, vault, model = self.fx, self.vault, self.model
        for i in range(3) if full else ():
            assert vault.balanceOf(self.who[i]) == model.bal[i]
            assert vault.hwm(self.who[i]) == model.hwm[i]
        assert vault.totalSupply() == model.supply
        assert vault.pending_shares() == model.pending
        assert vault.queue_tail() - vault.queue_head() == len(model.queue)
        assert tuple(fx.exchange.position(vault, 1)) == (model.acct.size, model.acct.cost)
        equity = fx.exchange.equity(vault)
        assert equity == model.acct.equity()
        assert vault.total_assets() == model.total_assets()
        # every USDC unit is accounted for: vault idle + Exchange equity + paid out
        # (depositors and manager) == deposited + trading PnL
        paid_out = self.net_paid  # each payout was read off the chain to the unit
        if full:
            paid_out = sum(fx.usdc.balanceOf(w) - b for w, b in zip(self.who, self.received_before))
            paid_out += fx.usdc.balanceOf(fx.manager) - self.manager_before
            assert paid_out == self.net_paid
        held = fx.usdc.balanceOf(vault) + equity
        assert held + paid_out == sum(self.deposited) + model.acct.trading_pnl()


@pytest.fixture
def funded_taker(fund, exchange, taker):
    """The vault's counterparty, funded once for all the examples of a test."""
    fund(taker, 100_000_000 * USDC, spender=exchange)
    exchange.deposit(100_000_000 * USDC, sender=taker)
    return taker


@SETTINGS
@given(
    psb=st.sampled_from([0, 1, 1_000, 2_500, 10_000]),
    first=st.integers(100 * USDC, 10_000 * USDC),
    steps=st.lists(step, min_size=2, max_size=10),
    close_bps=st.integers(-400, 400),
)
# explicit: a request queued behind an open position, a loss while it waits, a claim
# refused for liquidity, then paid once the keeper closes at a loss
@example(
    psb=1_000, first=5_000 * USDC, close_bps=0,
    steps=[("deposit", 1, 3_000 * USDC), ("trade", True, 20_000, 0), ("withdraw", 0, 100),
           ("mark", -500), ("claim", False, 0), ("claim", True, 100)],
)
# explicit: a gain while queued (the payout stays capped at the request's value, the
# upside goes to those who remain), a second request queued behind the first, FIFO claims
@example(
    psb=2_500, first=8_000 * USDC, close_bps=-200,
    steps=[("deposit", 1, 2_000 * USDC), ("trade", True, 20_000, -300), ("withdraw", 0, 100),
           ("mark", 800), ("withdraw", 1, 50), ("claim", True, 0), ("claim", False, 0)],
)
@example(  # a close at the guard's edge below the mark (found in CI: rounded past the distance)
    psb=0, first=412611471, close_bps=-149,
    steps=[("deposit", 0, 154), ("deposit", 0, 1), ("trade", True, 855, 293), ("mark", -156), ("trade", False, 1, -69)],
)
def test_share_math__gains_and_losses__exact_model_and_fair_payouts(
    isolated, create_vault, owner, follower, follower2, manager, funded_taker, exchange, oracle,
    deposit, fund, trade, set_price, usdc, psb, first, steps, close_bps,
):
    fx = SimpleNamespace(
        create_vault=create_vault, owner=owner, follower=follower, follower2=follower2, manager=manager,
        taker=funded_taker, exchange=exchange, oracle=oracle, deposit=deposit, fund=fund, trade=trade,
        set_price=set_price, usdc=usdc,
    )
    with isolated():  # not chain.isolate(): it swallows assertion errors
        run = Run(fx, psb, first)
        for kind, *args in steps:
            getattr(run, kind)(*args)
            run.check()
        run.drain(close_bps)


def test_share_math__gains_and_losses__paths_exercised():
    """The examples above went both ways and down every payout path (run after them)."""
    if not STATS["instant"]:
        return  # the property test did not run in this session (-k / deselected)
    assert STATS["gain"] and STATS["loss"], STATS
    assert STATS["queued"] and STATS["claimed"] and STATS["capped"] and STATS["refused"], STATS
    assert STATS["fee"] and STATS["below_basis"], STATS
