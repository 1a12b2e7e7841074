"""How every stateful test runs its machine: one settings shape, and what the run explored.

Derandomization and the missing deadline come from the hypothesis profile
(tests/conftest.py: `ci` runs the same examples every time; `explore` runs fresh ones).
The `ci` seed follows the machine's class name, not its source: hypothesis digests the
class it is given, here `_stepped(machine)`, built by `type()`, whose source it cannot find,
so it digests the name. Editing a machine changes its examples only where what it does
changes (the five chain machines' runs were the same before and after chain_machine). Every health check is off: the steps are
chain round trips (slow by design) and the rules draw with filters on purpose.

Rule choice: `_stepped` (below) replaces hypothesis' swarm choice of rules by a uniform
(or WEIGHTS) one, so every example runs every rule. Coverage: every rule is counted (how
often it ran) and, when the machine defines
`progress(self) -> hashable` (a cheap fingerprint of the state its rules are about, e.g.
positions, collateral, shares ...), how often it changed that state. A run prints the
table (`pytest -s`), and the test asserts with `coverage.require(rule=n)` that the paths
it is about were reached, so a thin run fails instead of passing. A seeded machine's
action loop (tests/contracts/seeded_machine.py) records its actions with `note`.

Depth: `MMX_HYPOTHESIS_PROFILE=deep` (or HYPOTHESIS_PROFILE=deep) runs DEEP_EXAMPLES x the
examples of DEEP_STEPS x the steps, fresh random ones (see tests/conftest.py), for a run
by hand; the default (`ci`) is what `make test` runs.
"""

from __future__ import annotations

import inspect
import os
import random
import time
from collections import Counter
from dataclasses import dataclass, field

from eth_utils import keccak
from hypothesis import HealthCheck, Phase, settings
from hypothesis import strategies as st
from hypothesis import assume
from hypothesis.stateful import RULE_MARKER, RuleBasedStateMachine, initialize, rule, run_state_machine_as_test

PROFILE = os.environ.get("MMX_HYPOTHESIS_PROFILE") or os.environ.get("HYPOTHESIS_PROFILE", "ci")
DEEP_EXAMPLES, DEEP_STEPS = 5, 2


@dataclass
class Coverage:
    """What one run_machine call explored: per rule (or action), runs and state changes."""

    machine: str
    examples: int
    steps: int
    ran: Counter = field(default_factory=Counter)
    changed: Counter = field(default_factory=Counter)
    spent: Counter = field(default_factory=Counter)  # seconds in each rule (invariants not included)
    seconds: float = 0.0

    def note(self, name: str, changed: bool | None) -> None:
        self.ran[name] += 1
        if changed:
            self.changed[name] += 1

    def table(self) -> str:
        rows = [f"{self.machine}: {self.examples} x {self.steps} steps, {self.seconds:.0f} s"]
        for name in sorted(self.ran):
            rows.append(f"  {name:32} ran {self.ran[name]:4}  changed {self.changed[name]:4}  {self.spent[name]:6.1f} s")
        return "\n".join(rows)

    def require(self, **minimum: int) -> None:
        """Each named rule changed the state at least that many times."""
        thin = {n: self.changed[n] for n, m in minimum.items() if self.changed[n] < m}
        assert not thin, f"thin run, {thin} below {minimum}:\n{self.table()}"


_current: Coverage | None = None


def note(name: str, changed: bool | None) -> None:
    """Record one action of the running machine (for machines that loop over actions)."""
    if _current is not None:
        _current.note(name, changed)


def _stepped(machine: type[RuleBasedStateMachine]) -> type[RuleBasedStateMachine]:
    """The machine with its rules behind one `step` rule that picks one uniformly (or by
    the machine's WEIGHTS, rule name -> weight) among those whose preconditions hold, from
    a generator seeded by hypothesis, and draws its arguments from the rule's strategies.

    Why not hypothesis' own rule choice: it does swarm testing (each example disables a
    random subset of the rules) and its first example repeats the first rule, which is
    right for hundreds of cheap examples and starves a chain machine of 3 examples: one
    instrumented solvency run drew 2 distinct rules in 3 x 12 steps. The chosen rule is
    printed with a failing example's steps (`Draw n (rule)`), and each is counted (ran,
    changed per progress()) in the run's Coverage."""
    rules = sorted((r for _, f in inspect.getmembers(machine) if (r := getattr(f, RULE_MARKER, None))),
                   key=lambda r: r.function.__name__)
    assert all(not r.targets for r in rules), "bundles are not stepped"
    weights = [getattr(machine, "WEIGHTS", {}).get(r.function.__name__, 1) for r in rules]
    plain = {r.function.__name__: r.function for r in rules}  # still callable, no longer rules

    @initialize(salt=st.integers(1, 2**32 - 1))
    def _salt(self, salt):
        # hypothesis' first example is its simplest: every draw minimal (each rule's smallest
        # arguments); it is refused here, before the machine's own start (names sort "_"
        # first), so every counted example is a random one
        self._refused = salt == 1
        assume(not self._refused)
        self._rng_base = salt

    def teardown(self):
        # the refusal may come before the machine's start (nothing to undo) or after it (in a
        # fresh run the initializers' order is drawn too): undo whatever the start set up
        try:
            machine.teardown(self)
        except AttributeError:
            if not getattr(self, "_refused", False):
                raise

    @rule(seed=st.integers(0, 2**32 - 1), data=st.data())
    def step(self, seed, data):
        self._steps = getattr(self, "_steps", 0) + 1
        rng = random.Random((self._rng_base * 1_000_003 + self._steps) * 2**32 + seed)
        ok = [(r, w) for r, w in zip(rules, weights) if all(p(self) for p in r.preconditions)]
        chosen = rng.choices([r for r, _ in ok], weights=[w for _, w in ok])[0]
        name = data.draw(st.just(chosen.function.__name__), label="rule")
        kwargs = data.draw(st.fixed_dictionaries(chosen.arguments), label=name)
        fingerprint = getattr(self, "progress", None)
        before = fingerprint() if fingerprint else None
        start = time.perf_counter()
        chosen.function(self, **kwargs)
        if _current is not None:
            _current.spent[name] += time.perf_counter() - start
        note(name, None if fingerprint is None else fingerprint() != before)

    return type(machine.__name__, (machine,), {**plain, "step": step, "_salt": _salt, "teardown": teardown})


def run_machine(machine: type[RuleBasedStateMachine], examples: int, steps: int) -> Coverage:
    """Run `machine` for `examples` examples of up to `steps` steps each (scaled by the deep
    profile); print and return what it explored."""
    global _current
    if PROFILE == "deep":
        examples, steps = examples * DEEP_EXAMPLES, steps * DEEP_STEPS
    coverage = _current = Coverage(machine.__name__, examples, steps)
    start = time.perf_counter()
    try:
        run_state_machine_as_test(
            _stepped(machine),
            settings=settings(max_examples=examples, stateful_step_count=steps, suppress_health_check=list(HealthCheck),
                              # MMX_NO_SHRINK=1: report the first failing example as found (a
                              # chain machine's shrinking replays its start many times)
                              **({"phases": [Phase.explicit, Phase.reuse, Phase.generate]}
                                 if os.environ.get("MMX_NO_SHRINK") else {})),
        )
    finally:
        _current = None
        coverage.seconds = time.perf_counter() - start
        print("\n" + coverage.table())
        if os.environ.get("MMX_STATEFUL_REPORT"):  # a file the tables go to (pytest -n hides stdout)
            with open(os.environ["MMX_STATEFUL_REPORT"], "a") as out:
                out.write(coverage.table() + "\n")
    return coverage


def chain_machine(chain, *contracts) -> type[RuleBasedStateMachine]:
    """The base of a machine on the test chain: its start's first line takes
    `self.snapshot = chain.snapshot()`, which `teardown` restores (every example starts from
    the same chain), and `progress()` counts the given contracts' state-changing events."""

    class ChainMachine(RuleBasedStateMachine):
        def progress(self) -> int:
            if not hasattr(self, "_progress"):  # one per example: the events since its first step
                self._progress = EventProgress(chain, *contracts)
            return self._progress()

        def teardown(self):
            chain.restore(self.snapshot)

    return ChainMachine


class EventProgress:
    """A cheap progress(): how many state-changing events the given contracts emitted so far
    (one eth_getLogs per call over the blocks mined since; a view per account and market
    took 40 % of the solvency machine's time). A skipped fill's event is not a change.
    Build one per example (in the initializer): a snapshot restore rewinds the blocks."""

    IGNORED = ("FillSkipped(bytes32,bytes32,string)",)

    def __init__(self, chain, *contracts):
        self.web3 = chain.provider.web3
        self.addresses = [str(getattr(c, "address", c)) for c in contracts]
        self.ignored = {bytes(keccak(text=e)) for e in self.IGNORED}
        self.block = self.web3.eth.block_number
        self.count = 0

    def __call__(self) -> int:
        head = self.web3.eth.block_number
        self.block = min(self.block, head)  # a snapshot restored below it: those blocks are gone
        if head > self.block:
            logs = self.web3.eth.get_logs({"fromBlock": self.block + 1, "toBlock": head, "address": self.addresses})
            self.count += sum(bytes(log["topics"][0]) not in self.ignored for log in logs if log["topics"])
            self.block = head
        return self.count

