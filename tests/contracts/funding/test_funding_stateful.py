"""Stateful funding test on the Exchange: random opens, closes, flips and rate updates
across two markets (rates up to +-20 % an interval, marks gapping up to 50 %), deposits,
withdrawals, explicit settle_funding, liquidation and ADL, with adversaries: a colluding
pair (maker + taker trade with each other at the band edges), a last-second trader who
opens just before a rate and closes right after, and an account that tries to withdraw
the funding it owes.

Sub-accounts move collateral to and from their owners in between (a move settles the
source's funding first).

Invariants after every step (exact integers):
- every settled amount (FundingSettled; FillSettled.maker_funding / taker_funding on fills)
  equals the model (offchain.funding.funding_owed of the
  position since the model's snapshot), and every position touched without an event owed 0;
- the exact ledger of the residue: funding_balance * 1e24 - funding_dust == the sum of
  every settlement's exact amount size * index move (the model's, event or not), with
  0 <= funding_dust < 1e24; that sum plus every open position's unsettled exact amount is 0
  (payments are exactly zero-sum);
- sum(paid) - sum(received) == funding_balance + the residue swept to the insurance fund,
  and the swept residue never decreases; insurance_fund == inflows - bad debt covered;
- ledger identity: USDC held == sum(collateral) - sum(cost) + fees + insurance + funding_balance;
- equity(a) == collateral + unrealised PnL at mark - the model's unsettled funding, and
  funding_owed(a, m) == the model, for every account and market;
- after everyone settles: funding_balance == funding_dust == 0 and the swept residue is
  sum(paid) - sum(received), 0 <= it <= number of settlements;
- every run starts with a funding-only bankruptcy beyond the (thin) insurance fund that
  ADL closes against the funding's receiver (price PnL 0: it qualifies by its funding);
- solvency once liquidation / ADL ran: no account below -slack and the USDC held covers
  every positive equity plus fees plus the insurance fund;
- an account never withdraws funding it owes (a withdrawal of collateral - owed + 1 reverts).
"""

import ape
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from offchain.funding import PAY_SCALE, RATE_ONE, funding_owed
from offchain.subaccounts import subaccount_address
from tests.constants import ETH, ETH_PRICE, LOT, ONE, SOL, SOL_PRICE, TICK, USDC
from tests.contracts.receipts import funding_settled
from tests.stateful import chain_machine, run_machine

MARKETS = (ETH, SOL)
INTERVAL = 60
RATES = [-RATE_ONE // 5, -RATE_ONE // 20, -123_457, -1, 0, 1, 98_765, RATE_ONE // 20, RATE_ONE // 5]
STATS = {"settled": 0, "funding_events": 0, "liquidated": 0, "adl": 0, "rates": 0}


def _trunc(a: int, b: int) -> int:
    q = abs(a) // abs(b)
    return q if (a >= 0) == (b > 0) else -q


def test_funding_stateful(
    chain, exchange, usdc, oracle, admin, operator, maker, taker, other, stranger, lp, fund,
    create_funding, create_order, create_fill, project, create_market,
):
    assert create_market(SOL_PRICE) == SOL
    fx = create_funding(oracle, interval=INTERVAL, cap=RATE_ONE, markets=MARKETS)
    exchange.set_funding(fx, sender=admin)
    fund(lp, 50_000_000 * USDC)
    exchange.set_backstop(lp, sender=admin)
    exchange.set_insurance_config(2_000, 3_000, sender=admin)
    traders = [maker, taker, other, stranger]  # maker + taker collude
    subs = project.ExchangeAccounts.at(exchange.address)
    for t in traders:
        subs.open_subaccount(1, sender=t)
    sub_of = [subaccount_address(t.address, 1) for t in traders]
    accounts = traders + [lp, operator]
    holders = [a.address for a in accounts] + sub_of  # every account that can hold collateral
    for t in traders:
        fund(t, 0, deposit=False)
    fund(admin, 0, deposit=False)

    def involved(tx):
        """Accounts whose positions a tx may have changed (from its events)."""
        out = set()
        for e in tx.decode_logs(exchange.FillSettled):
            out |= {e.maker, e.taker}
        for e in tx.decode_logs(exchange.Liquidation):
            out |= {e.account, e.backstop}
        for e in tx.decode_logs(exchange.Adl):
            out |= {e.account, e.counterparty}
        return out

    class Funding(chain_machine(chain, exchange, oracle, fx)):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.marks = {ETH: ETH_PRICE, SOL: SOL_PRICE}
            self.snap = {(a.address, m): 0 for a in accounts for m in MARKETS}
            # positions as last read from chain: a tx's events name every account whose
            # position it changed, so only those are re-read (each view is a round trip)
            self.pos = {(a.address, m): (0, 0) for a in accounts for m in MARKETS}
            self.total = 0  # sum of FundingSettled amounts
            self.exact = 0  # sum of every settlement's exact amount (1e-24 units)
            self.swept = 0  # residue swept to the insurance fund so far
            self.names = {a.address for a in accounts}
            self.events = 0
            for m, p in self.marks.items():
                oracle.set_price(m, p, sender=admin)
            for t in traders:
                usdc.mint(t, 20_000 * USDC, sender=admin)
                exchange.deposit(20_000 * USDC, sender=t)
            self.trade(0, 1, 0, True, 0, 3_001)
            self.trade(2, 3, 1, False, 0, 50_003)
            usdc.mint(admin, 1_000 * USDC, sender=admin)
            exchange.deposit_insurance(1_000 * USDC, sender=admin)  # a thin fund: ADL applies
            # a levered pair (6x) at the mark: a 20 % rate takes the payer (other) past zero
            # equity by funding alone, beyond what the fund covers, so every run closes a
            # funding-only bankruptcy by ADL against the receiver (stranger: price PnL 0,
            # a counterparty only because its unsettled funding counts)
            self.trade(2, 3, 0, True, 0, 60_000)
            adl = STATS["adl"]
            self.push_rate(0, RATE_ONE // 5)
            assert STATS["adl"] == adl + 1, STATS

        # ---- every state-changing call goes through here: the model checks its events
        def _tx(self, fn, *args, settles=None, **kw):
            """`settles`: the account whose every position the call settles (settle_funding,
            withdraw, move_collateral's source), so silent settlements (owed 0 units) count."""
            try:
                tx = fn(*args, **kw)
            except ape.exceptions.ContractLogicError:
                return None
            index = {m: fx.index(m) for m in MARKETS}
            seen = set()
            for account, market, amount, at in funding_settled(tx, exchange):
                key = (account, market)
                assert at in (None, index[market])  # a fill settles at the batch's index
                assert amount == funding_owed(self.pos[key][0], index[market], self.snap[key]) != 0, key
                self.exact += self.pos[key][0] * (index[market] - self.snap[key])
                self.snap[key] = index[market]
                self.total += amount
                self.events += 1
                seen.add(key)
            STATS["funding_events"] += len(seen)
            for a in involved(tx) | ({settles} if settles in self.names else set()):
                for m in MARKETS:
                    key = (a, m)
                    now = exchange.position(a, m)
                    if key not in seen and (now != self.pos[key] or a == settles):
                        # settled without an event: it owed nothing (its exact amount counts)
                        size = self.pos[key][0]
                        assert funding_owed(size, index[m], self.snap[key]) == 0, key
                        self.exact += size * (index[m] - self.snap[key])
                        self.snap[key] = index[m]
                    self.pos[key] = now
            # the residue swept so far: paid - received not left in the balance
            swept = self.total - exchange.funding_balance()
            assert swept >= self.swept
            if swept > self.swept:  # swept into the fund with an event
                assert tx.decode_logs(exchange.InsuranceInflow), "sweep without InsuranceInflow"
            self.swept = swept
            return tx

        # ---- money in and out
        @rule(i=st.integers(0, 3), amount=st.integers(1, 5_000 * USDC))
        def deposit(self, i, amount):
            usdc.mint(traders[i], amount, sender=admin)
            self._tx(exchange.deposit, amount, sender=traders[i])

        @rule(i=st.integers(0, 3), amount=st.integers(1, 10_000 * USDC))
        def withdraw(self, i, amount):
            self._tx(exchange.withdraw, amount, sender=traders[i], settles=traders[i].address)

        @rule(i=st.integers(0, 3))
        def withdraw_unpaid(self, i):
            """An account tries to take out the funding it owes: collateral - owed + 1."""
            a = traders[i]
            owed = sum(exchange.funding_owed(a, m) for m in MARKETS)
            amount = exchange.collateral(a) - owed + 1
            if amount <= 0:
                return
            with ape.reverts():
                exchange.withdraw(amount, sender=a)

        @rule(i=st.integers(0, 5))
        def settle_funding(self, i):
            self._tx(exchange.settle_funding, accounts[i], sender=stranger, settles=accounts[i].address)

        @rule(i=st.integers(0, 3), bps=st.sampled_from([1_000, 5_000, 10_000]), back=st.booleans())
        def move_collateral(self, i, bps, back):
            """A trader parks part of its collateral in its sub-account, or takes it back:
            the source's funding settles first; what it owes can never be moved out."""
            t, sub = traders[i], sub_of[i]
            if back:
                amount = exchange.collateral(sub)
                if amount > 0:
                    self._tx(subs.move_collateral, sub, t, amount, sender=t)
                return
            owed = sum(exchange.funding_owed(t, m) for m in MARKETS)
            free = exchange.collateral(t) - owed  # what the source owns after funding
            if free > 0 and self._tx(subs.move_collateral, t, sub, free + 1, sender=t, settles=t.address):
                raise AssertionError("moved out funding it owes")
            amount = max(free, 0) * bps // 10_000
            if amount > 0:
                self._tx(subs.move_collateral, t, sub, amount, sender=t, settles=t.address)

        # ---- trading
        @rule(
            i=st.integers(0, 3), j=st.integers(1, 3), k=st.integers(0, 1), maker_buys=st.booleans(),
            offset_bps=st.sampled_from([-500, -100, 0, 100, 500]), lots=st.integers(1, 6_000),
            then_rate=st.sampled_from(RATES),
        )
        def trade_pair(self, i, j, k, maker_buys, offset_bps, lots, then_rate):
            """Two distinct traders (a self-trade is skipped, so it would only cost a step)."""
            self.trade(i, (i + j) % 4, k, maker_buys, offset_bps, lots, then_rate)

        def trade(self, i, j, k, maker_buys, offset_bps, lots, then_rate=None):
            m = MARKETS[k]
            price = self.marks[m] * (10_000 + offset_bps) // 10_000 // TICK * TICK
            mo = create_order(traders[i], maker_buys, price, lots * LOT, market=m)
            to = create_order(traders[j], not maker_buys, price, lots * LOT, market=m)
            tx = self._tx(exchange.settle, [create_fill(mo, to)], sender=operator)
            if tx is not None:
                STATS["settled"] += len(tx.decode_logs(exchange.FillSettled))
            if then_rate is not None:  # every trade step moves an index: funding accrues between touches
                self.push_rate(k, then_rate)

        @rule(k=st.integers(0, 1), rate=st.sampled_from(RATES), long=st.booleans())
        def last_second(self, k, rate, long):
            """stranger opens against other just before a rate and closes right after."""
            m = MARKETS[k]
            self.trade(3, 2, k, long, 0, 5_000)
            self.push_rate(k, rate)
            size = self.pos[(stranger.address, m)][0]
            if size != 0:
                self.trade(3, 2, k, size < 0, 0, min(abs(size) // LOT, 20_000))

        # ---- funding rates and marks
        @rule(k=st.integers(0, 1), rate=st.sampled_from(RATES))
        def push_rate(self, k, rate):
            m = MARKETS[k]
            _, last, interval_s, _ = fx.funding_state(m)
            target = (last + 2) * interval_s + 1
            if chain.pending_timestamp < target:
                chain.pending_timestamp = target
            for mm in MARKETS:  # keep both marks fresh
                oracle.set_price(mm, self.marks[mm], sender=admin)
            fx.update_funding(m, last + 1, rate, sender=operator)
            STATS["rates"] += 1
            self.resolve()

        @rule(k=st.integers(0, 1), move_bps=st.sampled_from([-5_000, -1_500, -300, 300, 1_500, 5_000]))
        def gap(self, k, move_bps):
            m = MARKETS[k]
            new = self.marks[m] * (10_000 + move_bps) // 10_000 // TICK * TICK
            try:
                oracle.set_price(m, new, sender=admin)
            except ape.exceptions.ContractLogicError:
                return
            self.marks[m] = new
            if oracle.price_info(m)[2]:
                oracle.resume(m, sender=admin)
            self.resolve()

        def resolve(self):
            """The keeper after a mark or rate: liquidate, else ADL where the fund is short."""
            for a in traders:
                below = None  # account-level views: read once, again only after a tx
                for m in MARKETS:
                    if self.pos[(a.address, m)][0] == 0:
                        continue
                    if below is None:
                        below = exchange.equity(a) < exchange.margin_requirement(a, False)
                    if not below:
                        continue
                    below = None
                    if self._tx(exchange.liquidate, a, m, sender=stranger) is not None:
                        STATS["liquidated"] += 1
                        continue
                    self._adl(a, m)

        def _adl(self, a, m):
            size = self.pos[(a.address, m)][0]
            mark = self.marks[m]
            ranked = []
            index = fx.index(m)
            for c in accounts:
                s, cost = self.pos[(c.address, m)]
                # PnL including the funding it has not settled (the chain's ADL check)
                pnl = _trunc(s * mark, ONE) - cost - funding_owed(s, index, self.snap[(c.address, m)])
                if c != a and s != 0 and (s > 0) != (size > 0) and pnl > 0:
                    ranked.append((-pnl, c.address))
            ranked.sort()
            if ranked and self._tx(exchange.adl, a, m, [c for _, c in ranked], sender=operator) is not None:
                STATS["adl"] += 1

        @rule()
        def settle_everyone(self):
            for a in accounts:
                self._tx(exchange.settle_funding, a, sender=stranger, settles=a.address)
            # all settled: the balance is empty and the fund got exactly paid - received
            assert exchange.funding_balance() == 0 and exchange.funding_dust() == 0 and self.exact == 0
            assert self.swept == self.total and 0 <= self.total <= self.events, (self.total, self.events)
            assert self.pos == {(a.address, m): exchange.position(a, m) for a in accounts for m in MARKETS}

        # ---- invariants (one pass over the accounts: every view call costs a round trip)
        @invariant()
        def funding_ledger(self):
            if not hasattr(self, "snapshot"):
                return
            index = {m: fx.index(m) for m in MARKETS}
            sub_colls = [exchange.collateral(s) for s in sub_of]  # sub-accounts: collateral only
            coll = sum(sub_colls)
            cost = 0
            unsettled = 0  # exact amount every open position still owes
            sizes = {m: 0 for m in MARKETS}
            eqs = []
            for a in accounts:
                c = exchange.collateral(a)
                coll += c
                expected = c
                for m in MARKETS:
                    size, basis = self.pos[(a.address, m)]
                    cost += basis
                    sizes[m] += size
                    unsettled += size * (index[m] - self.snap[(a.address, m)])
                    owed = funding_owed(size, index[m], self.snap[(a.address, m)])
                    if size != 0:
                        assert exchange.funding_owed(a, m) == owed
                        expected += _trunc(size * self.marks[m], ONE) - basis - owed
                # equity view = the exact model (without a position it is the collateral)
                eq = exchange.equity(a) if any(self.pos[(a.address, m)][0] for m in MARKETS) else c
                assert eq == expected, a
                eqs.append(eq)
            balance, dust = exchange.funding_balance(), exchange.funding_dust()
            assert balance == self.total - self.swept
            assert 0 <= dust < PAY_SCALE
            assert balance * PAY_SCALE - dust == self.exact  # the residue's exact ledger
            assert self.exact + unsettled == 0  # exactly zero-sum
            fees, fund = exchange.fees_accrued(), exchange.insurance_fund()
            assert fund == exchange.insurance_inflows() - exchange.bad_debt_covered()
            held = usdc.balanceOf(exchange)
            assert held == coll - cost + fees + fund + exchange.funding_balance()
            assert all(v == 0 for v in sizes.values()), sizes
            # solvency (resolve ran after every mark and rate): truncation slack per position
            slack = len(eqs) * len(MARKETS)
            assert min(eqs) >= -slack, eqs
            assert held + slack >= sum(max(e, 0) for e in eqs) + sum(sub_colls) + fees + fund

    coverage = run_machine(Funding, examples=5, steps=12)
    print("funding stateful:", STATS)
    coverage.require(trade_pair=1, push_rate=1, gap=1, settle_everyone=1)
    # the run exercised fills, rates, settlements and liquidation by accrued funding
    assert STATS["settled"] > 0 and STATS["rates"] > 0 and STATS["funding_events"] > 0, STATS
    assert STATS["liquidated"] > 0 and STATS["adl"] >= 5, STATS
