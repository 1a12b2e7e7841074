"""The seeded state machine the vault and pool stateful tests (#12) share.

Each step runs a few actions, and each action's arguments, drawn from a generator seeded
by hypothesis (one seed per example): in a short derandomized run hypothesis' own choices
start from the minimal example (the first action, the smallest arguments, few steps) and
starve most paths; a failing run prints its seed and steps, and replays exactly.

`seeded_machine(...)` builds the base class over the test's fixtures; a test subclasses it
with its ACTIONS (names of its methods, repeated by weight), PARAMS (action -> the
arguments drawn from the generator) and a `check()` of its invariants, and its
`@initialize` rule calls `begin(seed)` first.
"""

import random

from hypothesis.stateful import RuleBasedStateMachine, rule

from tests.constants import BPS, MARKET, PRICE, TICK
from tests.contracts.receipts import settled
from tests.stateful import note


def seeded_machine(chain, exchange, oracle, admin, set_price, trade, stats, actions_per_step=4):
    """The base class: seeding, snapshot and restore, the action loop, the mark and fills."""

    class SeededMachine(RuleBasedStateMachine):
        ACTIONS: list[str] = []
        PARAMS: dict = {}

        def begin(self, seed):
            self.rng = random.Random(seed)
            self.snapshot = chain.snapshot()
            set_price(PRICE)

        def teardown(self):
            if hasattr(self, "snapshot"):
                chain.restore(self.snapshot)

        def allowed(self, action):
            """Whether `action` may run now (a test caps some actions)."""
            return True

        def check(self):
            raise NotImplementedError

        @rule()
        def act(self):
            """A few actions, each followed by the invariants."""
            for _ in range(actions_per_step):
                action = self.rng.choice(self.ACTIONS)
                if not self.allowed(action):
                    continue
                fingerprint = getattr(self, "progress", None)
                before = fingerprint() if fingerprint else None
                getattr(self, action)(**self.PARAMS[action](self.rng))
                note(action, None if fingerprint is None else fingerprint() != before)
                self.check()

        # ---------------------------------------------------------------- the mark

        def mark(self):
            return oracle.price_info(MARKET)[0]

        def touch_oracle(self):
            # the reporter keeps the mark fresh (a stale one is valued with a haircut)
            oracle.set_price(MARKET, self.mark(), sender=admin)

        def mark_gap(self, gap_bps):
            chain.pending_timestamp += 600  # past the breaker's window
            new = self.mark() * (BPS + gap_bps) // BPS
            new = min(max(new, PRICE // 2), PRICE * 2)
            set_price(new - new % TICK)
            stats["gap"] += 1

        def time_passes(self, seconds):
            chain.pending_timestamp += seconds
            self.touch_oracle()

        # ---------------------------------------------------------------- trades

        def settle_one(self, maker, maker_key, taker, taker_key, maker_buys, price, size, maker_flags=0,
                       maker_nonce=None):
            """One fill of MARKET at `price`: (settled fills, skip reasons)."""
            receipt = trade(maker, maker_key, taker, taker_key, maker_buys, size, price=price, maker_flags=maker_flags,
                            maker_nonce=maker_nonce)
            return settled(receipt, exchange)

    return SeededMachine
