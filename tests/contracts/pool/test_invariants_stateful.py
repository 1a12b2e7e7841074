"""Stateful invariants of the pool's share price, withdrawal rules and backstop reserve (#12),
on the real contracts.

A rule-based state machine drives one pool with adversarial actors: two LPs, a
just-in-time depositor who comes right before distribute_fees, the keeper's grid trading
the pool against a taker (at any in-band price: the pool has no trade guard), outside
traders whose fees feed the pool's share, a levered trader liquidated into the pool (the
backstop takes the position over) after large mark gaps (up to 20 % per step), time passing
(profit unlocking over a day, lock-ups, UTC days), and the admin moving the daily limit and
the backstop reserve.

Invariants after every step (exact integers):
- total assets == idle USDC + max(Exchange equity, 0) - profit still locked;
- backstop reserve == 0 while the pool holds no position, else initial margin x bps + minimum;
- available liquidity == idle + max(min(free collateral, collateral) - reserve, 0);
- supply == the LPs' balances;
on every deposit and withdrawal (prices read at the transaction's own timestamp):
- nobody else's shares lose value, and the price rises at most by rounding;
- a redemption within maxRedeem (a withdrawal within maxWithdraw) succeeds; a refused one
  names a documented rule (lock-up, daily limit, liquidity, backstop reserve);
- a JIT deposit before distribute_fees earns at most its pro-rata part of what unlocks
  after it arrived;
and the last holder can always exit: in a snapshot, once the keeper has closed the pool's
positions and the lock-ups have passed (daily limit at 100 %), every LP redeems its whole
balance (maxRedeem == balance), the supply reaches zero.
"""
from hypothesis import strategies as st
from hypothesis.stateful import initialize

from tests.constants import BPS, DAY, MARKET, ONE, TICK, USDC
from tests.contracts.receipts import PENDING, reverted
from tests.contracts.seeded_machine import seeded_machine
from tests.contracts.share_price import Price, earned_at_most_unlocked, not_lower, within_rounding
from tests.stateful import EventProgress, run_machine

STATS = dict.fromkeys(["deposit", "refused_deposit", "redeem", "withdraw", "refused", "fees", "jit", "grid",
                       "liquidated", "gap", "exit", "exit_blocked"], 0)
WITHDRAW_RULES = {"pool: locked", "pool: daily limit", "pool: liquidity", "pool: backstop reserve"}

# Each action's arguments, drawn from the example's seeded generator (tests/contracts/seeded_machine.py).
PARAMS = {
    "deposit": lambda r: dict(i=r.randrange(3), amount=r.randint(1 * USDC, 50_000 * USDC)),
    "redeem": lambda r: dict(i=r.randrange(3), pct=r.choice([10, 50, 100, 100]), wait=r.random() < 0.6),
    "withdraw": lambda r: dict(i=r.randrange(3), pct=r.choice([10, 50, 100]), wait=r.random() < 0.6),
    "fees": lambda r: dict(lots=r.randint(1, 50), jit=r.choice([0, r.randint(1, 200_000 * USDC)]),
                           wait=r.choice([1, 3_600, DAY])),
    "grid_trade": lambda r: dict(buy=r.random() < 0.5, off_bps=r.randint(-900, 900), units=r.randint(1, 20)),
    "liquidation": lambda r: dict(long=r.random() < 0.5, gap_bps=r.randint(700, 2_000)),
    "mark_gap": lambda r: dict(gap_bps=r.randint(-2_000, 2_000)),
    "time_passes": lambda r: dict(seconds=r.choice([1, 3_600, DAY, 4 * DAY])),
    "admin": lambda r: dict(daily_bps=r.choice([2_000, 10_000]), reserve_bps=r.choice([0, 10_000, 30_000]),
                            minimum=r.choice([0, 1_000 * USDC])),
    "everyone_exits": lambda r: dict(),
}
ACTIONS = (["deposit"] * 3 + ["redeem"] * 3 + ["withdraw"] * 2 + ["fees"] * 3 + ["grid_trade"] * 2
           + ["liquidation", "mark_gap", "time_passes", "admin", "everyone_exits"])


def test_pool_invariants_stateful(
    chain, create_pool, exchange, oracle, usdc, admin, lp, follower, stranger, maker, taker, other, treasury,
    keeper_agent, mint_usdc, set_price, trade,
):
    jit = stranger
    lps = [lp, follower, jit]
    for who in (maker, taker):
        mint_usdc(who, 100_000_000 * USDC, spender=exchange)
        exchange.deposit(100_000_000 * USDC, sender=who)
    mint_usdc(other, 10**9 * USDC, spender=exchange)
    for who in lps:
        usdc.mint(who, 10**10 * USDC, sender=admin)

    class PoolMachine(seeded_machine(chain, exchange, oracle, admin, set_price, trade, STATS)):
        ACTIONS, PARAMS = ACTIONS, PARAMS

        @initialize(first=st.integers(10_000 * USDC, 200_000 * USDC), seed=st.integers(0, 2**32 - 1))
        def start(self, first, seed):
            self.begin(seed)
            self.pool = p = create_pool()
            p.set_agent(keeper_agent, True, sender=admin)
            exchange.set_fee_config(p, 5_000, treasury, sender=admin)
            for who in lps:
                usdc.approve(p, 2**256 - 1, sender=who)
            self.deposit(0, first)
            self.deposit(1, first // 2)
            self.check()

        def progress(self):
            if not hasattr(self, "_progress"):  # one per example: the events since its first step
                self._progress = EventProgress(chain, self.pool, exchange, oracle)
            return self._progress()

        # ---------------------------------------------------------------- helpers

        def price(self, pending=False):
            kw = PENDING if pending else {}
            return Price(self.pool.totalAssets(**kw), self.pool.totalSupply(**kw))

        def checked(self, call):
            """Run a deposit / withdrawal: the price never falls and rises at most by rounding."""
            before = self.price(pending=True)
            receipt, reason = reverted(call)
            if receipt is not None:
                after = self.price()
                assert not_lower(before, after), (before, after)
                assert within_rounding(before, after), (before, after)
            return receipt, reason

        def wait_lockup(self, who):
            if self.pool.lock_until(who) > chain.pending_timestamp:
                chain.pending_timestamp = self.pool.lock_until(who)
                self.touch_oracle()  # days may have passed: a fresh mark, as the reporter keeps it

        # ---------------------------------------------------------------- LPs

        def deposit(self, i, amount):
            p, who = self.pool, lps[i]
            negative = exchange.equity(p) < 0
            over_cap = p.totalAssets(**PENDING) + amount > p.deposit_cap()
            receipt, reason = self.checked(lambda: p.deposit(amount, sender=who))
            if negative:
                assert reason == "pool: negative equity"
            elif over_cap:
                assert reason == "pool: cap"
            else:
                assert reason is None, reason
                ev = receipt.events.filter(p.Deposit)[0]
                assert ev.assets == amount and ev.shares > 0 and p.lock_until(who) == chain.blocks.head.timestamp + p.lockup()
                STATS["deposit"] += 1
                return
            STATS["refused_deposit"] += 1

        def leave(self, who, amount, wait, limit, preview, call):
            """A redemption (amount in shares) or a withdrawal (in assets), the holder waiting out
            its lock-up first if `wait`: (what `limit` allowed, what `preview` expected, receipt,
            revert reason); None for a zero amount."""
            if amount == 0:
                return None
            if wait:
                self.wait_lockup(who)
            allowed, expected = limit(who, **PENDING), preview(amount, **PENDING)
            return (allowed, expected, *self.checked(lambda: call(amount, sender=who)))

        def redeem(self, i, pct, wait):
            p, who = self.pool, lps[i]
            shares = p.balanceOf(who) * pct // 100
            before = usdc.balanceOf(who)
            left = self.leave(who, shares, wait, p.maxRedeem, p.previewRedeem, p.redeem)
            if left is None:
                return
            allowed, expected, receipt, reason = left
            if shares <= allowed and expected > 0:
                assert reason is None, (reason, shares, allowed)
            if reason is not None:
                # dust that is worth no USDC is refused, not burnt for nothing
                assert reason in WITHDRAW_RULES or (expected == 0 and reason == "pool: zero"), reason
                STATS["refused"] += 1
                return
            ev = receipt.events.filter(p.Withdraw)[0]
            assert ev.shares == shares and ev.assets == expected == usdc.balanceOf(who) - before
            STATS["redeem"] += 1

        def withdraw(self, i, pct, wait):
            p, who = self.pool, lps[i]
            assets = p.previewRedeem(p.balanceOf(who)) * pct // 100
            left = self.leave(who, assets, wait, p.maxWithdraw, p.previewWithdraw, p.withdraw)
            if left is None:
                return
            allowed, expected, receipt, reason = left
            if assets <= allowed and expected <= p.balanceOf(who):
                assert reason is None, (reason, assets, allowed)
            if reason is not None:
                assert reason in WITHDRAW_RULES or reason.startswith("erc20:"), reason
                STATS["refused"] += 1
                return
            ev = receipt.events.filter(p.Withdraw)[0]
            assert ev.assets == assets and ev.shares == expected
            STATS["withdraw"] += 1

        # ---------------------------------------------------------------- income and the JIT depositor

        def fees(self, lots, jit, wait):
            """Outside traders pay fees; a JIT deposit may come right before distribute_fees."""
            p = self.pool
            # book what earlier actions left unbooked (a grid trade's gain or loss) first, so
            # the fees below are the only change this distribution books
            p.distribute_fees(sender=stranger)
            size = lots * ONE // 10
            for maker_buys in (True, False):
                ok, skipped = self.settle_one(maker, maker, taker, taker, maker_buys, self.mark(), size)
                assert ok, skipped
            if jit and exchange.equity(p) >= 0:
                p.deposit(jit, sender=stranger)
                STATS["jit"] += 1
            shares = p.balanceOf(stranger)
            p0, (l0, _) = self.price(), p.profit_unlock_schedule()
            share = exchange.fees_accrued() * 5_000 // BPS
            receipt = p.distribute_fees(sender=stranger)
            ev = receipt.events.filter(p.FeesCollected)[0]
            assert abs(ev.amount - share) <= 1 and p.fee_income() >= ev.amount
            p1, (l1, _) = self.price(), p.profit_unlock_schedule()
            earned_at_most_unlocked(shares, p0, l0, p1, l1, ev.amount)
            assert l1 + 1 >= ev.amount  # nothing of the fees in the price at once
            chain.pending_timestamp += wait
            self.touch_oracle()  # a fresh mark (a stale one is valued with a haircut)
            p2, (l2, _) = self.price(), p.profit_unlock_schedule()
            earned_at_most_unlocked(shares, p1, l1, p2, l2, 0)
            STATS["fees"] += 1

        # ---------------------------------------------------------------- the book and the backstop

        def grid_trade(self, buy, off_bps, units):
            mark = self.mark()
            price = mark * (BPS + off_bps) // BPS
            price -= price % TICK
            self.settle_one(self.pool, keeper_agent, taker, taker, buy, price, units * ONE // 10)
            STATS["grid"] += 1

        def liquidation(self, long, gap_bps):
            """A levered trader (about 8x) is gapped below maintenance and liquidated into the pool."""
            p = self.pool
            if exchange.position(other, MARKET)[0] == 0:
                coll = exchange.collateral(other)
                if coll < 5_000 * USDC:
                    exchange.deposit(5_000 * USDC - max(coll, 0), sender=other)
                size = 20 * ONE
                ok, skipped = self.settle_one(taker, taker, other, other, not long, self.mark(), size)
                if not ok:
                    return
            self.mark_gap(-gap_bps if exchange.position(other, MARKET)[0] > 0 else gap_bps)
            if exchange.equity(other) >= exchange.margin_requirement(other, False):
                return
            pool_before, moving = exchange.position(p, MARKET)[0], exchange.position(other, MARKET)[0]
            receipt, reason = reverted(lambda: exchange.liquidate(other, MARKET, sender=stranger))
            if receipt is not None:
                ev = receipt.events.filter(exchange.Liquidation)[0]
                assert ev.backstop == p.address and abs(ev.size) == abs(moving)
                # the backstop took the whole position over at the mark
                assert exchange.position(p, MARKET)[0] == pool_before + moving
                assert exchange.position(other, MARKET)[0] == 0
                STATS["liquidated"] += 1
            else:
                assert reason.startswith("exchange:"), reason

        def admin(self, daily_bps, reserve_bps, minimum):
            self.pool.set_daily_withdraw_limit(daily_bps, sender=admin)
            self.pool.set_backstop_reserve(reserve_bps, minimum, sender=admin)

        # ---------------------------------------------------------------- the last holder exits

        def everyone_exits(self):
            p = self.pool
            snap = chain.snapshot()
            try:
                chain.pending_timestamp += 4 * DAY + 1
                self.touch_oracle()
                p.set_daily_withdraw_limit(10_000, sender=admin)
                size = exchange.position(p, MARKET)[0]
                if size:
                    # the keeper's grid unwinds what the pool holds at the mark
                    ok, skipped = self.settle_one(taker, taker, p, keeper_agent, size > 0, self.mark(), abs(size))
                    if not ok:
                        STATS["exit_blocked"] += 1
                        return
                if exchange.equity(p) < 0:
                    STATS["exit_blocked"] += 1
                    return
                assert p.backstop_reserve() == 0
                for who in lps:
                    shares = p.balanceOf(who)
                    if shares:
                        assert p.maxRedeem(who, **PENDING) == shares
                        receipt, reason = self.checked(lambda: p.redeem(shares, sender=who))
                        assert reason is None, reason
                assert p.totalSupply() == 0
                STATS["exit"] += 1
            finally:
                chain.restore(snap)

        # ---------------------------------------------------------------- invariants

        def check(self):
            p = self.pool
            idle = usdc.balanceOf(p)
            equity = exchange.equity(p)
            locked, _ = p.profit_unlock_schedule()
            assert p.totalAssets() == idle + max(equity, 0) - locked
            im = exchange.margin_requirement(p, True)
            reserve = 0 if im == 0 else im * p.backstop_reserve_bps() // BPS + p.min_backstop_reserve()
            assert p.backstop_reserve() == reserve
            free = min(exchange.free_collateral(p), exchange.collateral(p))
            assert p.available_liquidity() == idle + max(free - reserve, 0)
            assert p.totalSupply() == sum(p.balanceOf(w) for w in lps)

    run_machine(PoolMachine, examples=2, steps=5)
    print("pool stateful:", STATS)
    for path in ("deposit",):
        assert STATS[path] > 0, STATS
