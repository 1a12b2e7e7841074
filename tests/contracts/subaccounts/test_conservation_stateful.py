"""Stateful conservation test of sub-accounts and position transfers.

Actors: two owners with sub-accounts (maker: subs 1 and 2; taker: sub 1, also the hostile
counterparty that proposes transfers at any price, replays and signs for accounts it does
not own), a plain account (other) and a vault-like guarded account (stranger: trade guard
and a forbidden counterparty, which no transfer may touch). Steps: fills (signed by the owner for its subs), agreed
transfers at prices up to 8% from mark (outside the 5% band too), owner-alone transfers,
split and merge with collateral, collateral moves, replays, foreign signers, and mark gaps
up to 40% in two markets.

Invariants after every step (exact integers):
- positions sum to zero in every market (total long = total short);
- the ledger identity: USDC held == sum(collateral) - sum(cost) + fees_accrued + insurance_fund;
- a transfer / split / merge / collateral move never changes the USDC held nor
  sum(collateral - cost) over its two accounts (the cash identity);
- after every accepted transfer, split or merge both accounts are at or above initial
  margin; an accepted hostile transfer was signed by both sides' owners.
"""

import ape
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule

from offchain.order import Order, sign_order
from offchain.subaccounts import NO_SIGNATURE, PositionTransfer, sign_transfer, subaccount_address
from tests.constants import ETH, ETH_PRICE, FAR_EXPIRY, LOT, SOL, SOL_PRICE, TICK, USDC
from tests.stateful import chain_machine, run_machine

MARKETS = (ETH, SOL)
STATS = {"transfers": 0, "refused": 0, "splits": 0, "merges": 0, "fills": 0}
REASONS: dict[str, int] = {}


def test_conservation_stateful(chain, exchange, subs, usdc, oracle, admin, operator, maker, taker, other, stranger,
                               fund, domain, set_price, create_market):
    assert create_market(SOL_PRICE) == SOL
    for a in (maker, taker, other, stranger):
        fund(a, 0, deposit=False)
    # a vault-like account: trade guard and a forbidden counterparty (never part of a transfer)
    exchange.set_trade_guard(500, 0, sender=stranger)
    exchange.set_forbidden_counterparty(taker, True, sender=stranger)
    subs.open_subaccount(1, sender=maker)
    subs.open_subaccount(2, sender=maker)
    subs.open_subaccount(1, sender=taker)
    m1, m2 = subaccount_address(maker.address, 1), subaccount_address(maker.address, 2)
    t1 = subaccount_address(taker.address, 1)
    owner_of = {maker.address: maker, m1: maker, m2: maker, taker.address: taker, t1: taker, other.address: other,
                stranger.address: stranger}
    accts = list(owner_of)  # 0..6 (6: the guarded one)
    OWN = [(a, b) for a in accts for b in accts if a != b and owner_of[a] == owner_of[b]]  # an owner's pairs
    everyone = accts + [exchange.treasury()]
    nonces = iter(range(1, 10**9))

    def cash(*accounts):
        # a move touches only its two accounts: their cash and the USDC held (few calls:
        # every view is a call into the in-process chain)
        return usdc.balanceOf(exchange), sum(
            exchange.collateral(a) - sum(exchange.position(a, m)[1] for m in MARKETS) for a in accounts
        )

    def above_initial(a):
        return exchange.equity(a) >= exchange.margin_requirement(a, True)

    class Conservation(chain_machine(chain, exchange, subs, oracle)):
        @initialize()
        def start(self):
            self.snapshot = chain.snapshot()
            self.done = []  # (transfer, sig_from, sig_to) executed
            self.marks = {ETH: ETH_PRICE, SOL: SOL_PRICE}
            for m, p in self.marks.items():
                oracle.set_price(m, p, sender=admin)
            for o in (maker, taker, other, stranger):
                usdc.mint(o, 20_000 * USDC, sender=admin)
                exchange.deposit(20_000 * USDC, sender=o)
            for sub, owner in ((m1, maker), (m2, maker), (t1, taker)):
                subs.move_collateral(owner, sub, 4_000 * USDC, sender=owner)
            self.fill(1, 3, 0, True, 0, 2_000)  # m1 long ETH vs taker
            self.fill(4, 5, 1, False, 0, 20_000)  # t1 short SOL vs other
            self.fill(0, 2, 1, True, 100, 10_000)  # maker long SOL vs m2
            self.fill(6, 5, 0, False, 0, 1_000)  # the guarded account short ETH vs other
            # every example covers each path once (a fixed scenario: coverage counted across
            # examples is not deterministic): an agreed transfer, split, merge, a refusal
            t = PositionTransfer(t1, other.address, SOL, -5_000 * LOT, SOL_PRICE, next(nonces), FAR_EXPIRY)
            ts = sign_transfer(t, domain, other.private_key).as_tuple()
            assert self._attempt(t1, other.address,
                                 lambda: subs.transfer_position(t.as_tuple(), NO_SIGNATURE, ts, sender=taker))
            self.done.append((t, NO_SIGNATURE, ts, taker))
            assert self._attempt(maker.address, m2, lambda: subs.split(m2, SOL, 5_000 * LOT, 500 * USDC, sender=maker))
            assert self._attempt(m1, maker.address, lambda: subs.merge(m1, ETH, 1_000 * USDC, sender=maker))
            assert not self._attempt(maker.address, m1, lambda: subs.split(m1, SOL, 10**30, 0, sender=maker))

        def _sign_order(self, order):
            return sign_order(order, domain, owner_of[order.account].private_key).as_tuple()

        @rule(i=st.integers(0, 6), j=st.integers(1, 6), k=st.integers(0, 1), maker_buys=st.booleans(),
              offset_bps=st.integers(-500, 500), lots=st.integers(1, 5_000))
        def fill_pair(self, i, j, k, maker_buys, offset_bps, lots):
            """Two distinct accounts (a self-trade would only cost a step)."""
            self.fill(i, (i + j) % 7, k, maker_buys, offset_bps, lots)

        def fill(self, i, j, k, maker_buys, offset_bps, lots):
            m = MARKETS[k]
            price = self.marks[m] * (10_000 + offset_bps) // 10_000 // TICK * TICK
            n = next(nonces)
            mo = Order(accts[i], m, maker_buys, price, lots * LOT, n, FAR_EXPIRY, 0)
            to = Order(accts[j], m, not maker_buys, price, lots * LOT, n, FAR_EXPIRY, 0)
            tx = exchange.settle([(mo.as_tuple(), self._sign_order(mo), to.as_tuple(), self._sign_order(to),
                                   lots * LOT)], sender=operator)
            STATS["fills"] += len(list(tx.decode_logs(exchange.FillSettled)))

        def _attempt(self, src, dst, call):
            """Run a transfer-like call: accepted -> cash unchanged and both above initial
            (a refused one reverts: the EVM undoes it)."""
            cash_before = cash(src, dst)
            try:
                call()
            except ape.exceptions.ContractLogicError as exc:
                STATS["refused"] += 1
                REASONS[str(exc.message)] = REASONS.get(str(exc.message), 0) + 1
                return False
            assert cash(src, dst) == cash_before
            assert above_initial(src) and above_initial(dst)
            return True

        @rule(i=st.integers(0, 6), j=st.integers(0, 6), k=st.integers(0, 1), frac_bps=st.integers(1, 10_000),
              offset_bps=st.integers(-600, 600), hostile_draw=st.integers(0, 3), caller_signs=st.booleans())
        def transfer(self, i, j, k, frac_bps, offset_bps, hostile_draw, caller_signs):
            hostile = hostile_draw == 0  # one in four: the hostile counterparty signs both sides
            m = MARKETS[k]
            holders = [a for a in accts if exchange.position(a, m)[0] != 0]
            if not holders:
                return
            src = holders[i % len(holders)]
            dst = [a for a in accts if a != src][j % (len(accts) - 1)]
            held = exchange.position(src, m)[0]
            size = held * frac_bps // 10_000 // LOT * LOT
            if size == 0:
                return
            price = self.marks[m] * (10_000 + offset_bps) // 10_000 // TICK * TICK
            t = PositionTransfer(src, dst, m, size, price, next(nonces), FAR_EXPIRY)
            # a hostile counterparty (taker) signs for both sides; else each side's owner
            fs = sign_transfer(t, domain, (taker if hostile else owner_of[src]).private_key).as_tuple()
            ts = sign_transfer(t, domain, (taker if hostile else owner_of[dst]).private_key).as_tuple()
            caller = owner_of[src] if caller_signs else other
            if caller_signs:
                fs = NO_SIGNATURE
            ok = self._attempt(src, dst, lambda: subs.transfer_position(t.as_tuple(), fs, ts, sender=caller))
            if ok:
                STATS["transfers"] += 1
                assert stranger.address not in (src, dst)  # guarded accounts never transfer
                # each side consented: its owner is the caller, or signed (a hostile signer
                # can only have consented for accounts it owns)
                src_signer = None if caller_signs else (taker if hostile else owner_of[src])
                dst_signer = taker if hostile else owner_of[dst]
                assert owner_of[src] in (caller, src_signer) and owner_of[dst] in (caller, dst_signer)
                assert abs(price - self.marks[m]) * 10_000 <= self.marks[m] * 500
                self.done.append((t, fs, ts, caller))

        @rule(n=st.integers(0, 50))
        def replay(self, n):
            if not self.done:
                return
            t, fs, ts, caller = self.done[n % len(self.done)]
            with ape.reverts("exchange: transfer used"):
                subs.transfer_position(t.as_tuple(), fs, ts, sender=caller)

        @rule(owner_i=st.integers(0, 1), sub_i=st.integers(0, 1), k=st.integers(0, 1), frac_bps=st.integers(1, 10_000),
              collateral=st.integers(0, 3_000 * USDC), merge=st.booleans())
        def split_or_merge(self, owner_i, sub_i, k, frac_bps, collateral, merge):
            owner = (maker, taker)[owner_i]
            sub = ((m1, m2), (t1, t1))[owner_i][sub_i]
            m = MARKETS[k]
            if merge:
                ok = self._attempt(sub, owner.address, lambda: subs.merge(sub, m, collateral, sender=owner))
                STATS["merges"] += ok
            else:
                held = abs(exchange.position(owner, m)[0])
                size = held * frac_bps // 10_000 // LOT * LOT
                ok = self._attempt(owner.address, sub, lambda: subs.split(sub, m, size, collateral, sender=owner))
                STATS["splits"] += ok

        @rule(p=st.integers(0, len(OWN) - 1), frac_bps=st.integers(1, 10_000))
        def move_own_collateral(self, p, frac_bps):
            """An owner moves part of what it may take out between two of its accounts."""
            src, dst = OWN[p]
            amount = min(exchange.free_collateral(src), exchange.collateral(src)) * frac_bps // 10_000
            if amount <= 0:
                return
            cash_before = cash(src, dst)
            subs.move_collateral(src, dst, amount, sender=owner_of[src])
            assert cash(src, dst) == cash_before and above_initial(src)

        @rule(i=st.integers(0, 6), j=st.integers(0, 6), amount=st.integers(1, 5_000 * USDC), as_taker=st.booleans())
        def move_collateral(self, i, j, amount, as_taker):
            """Any pair, any caller (mostly another owner's account: refused)."""
            caller = taker if as_taker else owner_of[accts[i]]
            cash_before = cash(accts[i], accts[j])
            try:
                subs.move_collateral(accts[i], accts[j], amount, sender=caller)
            except ape.exceptions.ContractLogicError:
                return
            assert cash(accts[i], accts[j]) == cash_before
            assert owner_of[accts[i]] == caller and owner_of[accts[j]] == caller
            assert above_initial(accts[i])

        @rule(k=st.integers(0, 1), move_bps=st.integers(-4_000, 4_000))
        def gap(self, k, move_bps):
            m = MARKETS[k]
            price = max(TICK, self.marks[m] * (10_000 + move_bps) // 10_000 // TICK * TICK)
            set_price(price, market=m)
            self.marks[m] = price

        @invariant()
        def long_equals_short_and_ledger_identity(self):
            rows = [(exchange.collateral(a), [exchange.position(a, m) for m in MARKETS]) for a in everyone]
            for k in range(len(MARKETS)):
                assert sum(p[k][0] for _, p in rows) == 0
            total = sum(c - sum(cost for _, cost in p) for c, p in rows)
            assert usdc.balanceOf(exchange) == total + exchange.fees_accrued() + exchange.insurance_fund()

    # 3 x 16: the steps are cheap next to the examples' starts
    coverage = run_machine(Conservation, examples=3, steps=16)
    print("subaccounts stateful:", STATS, REASONS)
    coverage.require(fill_pair=1, gap=1, move_own_collateral=1)
