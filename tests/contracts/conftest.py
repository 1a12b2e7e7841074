"""Guard for Ape's chain isolation across the contract test folders.

Ape's pytest plugin orders each test's fixtures by scope and puts `_function_isolation`
(the per-test snapshot) before the function-scoped ones. It looks a fixture's scope up by
*name* over every definition collected in the session, not just the one the test sees.
So if one module defines a module-scoped `underwater` and another a function-scoped
`underwater`, the function-scoped one is also listed as module-scoped, runs *before* the
per-test snapshot and its chain changes are never reverted: they pile up from test to
test, but only when both modules are collected together.

Fixture names under tests/contracts must therefore have one scope across the session.

Every module here also runs on a clock of its own (`module_clock`, below), not the wall
clock's.
"""

import pytest

from tests.constants import DAY

# fee_tiers.EPOCH_LENGTH: the longest period the contracts count time in
FEE_EPOCH = 30 * DAY
# Where every module's clock starts: noon UTC in the middle of a fee epoch, so the hour, UTC
# day (the pool's daily withdrawal window), funding interval and fee epoch a test's blocks
# fall in are the same in every run
CLOCK_PHASE = FEE_EPOCH // 2 + DAY // 2


def pytest_collection_modifyitems(session, config, items):
    clashes = []
    for name, defs in session._fixturemanager._arg2fixturedefs.items():
        if len({d.scope for d in defs}) > 1 and any(d.baseid.startswith("tests/contracts") for d in defs):
            where = ", ".join(f"{d.scope} in {d.baseid or '<plugin>'}" for d in defs)
            clashes.append(f"  {name}: {where}")
    if clashes:
        raise pytest.UsageError(
            "fixtures defined with different scopes break Ape's per-test chain isolation "
            "(see tests/contracts/conftest.py); rename one of them:\n" + "\n".join(clashes)
        )


@pytest.fixture(scope="module", autouse=True)
def module_clock(chain):
    """The module's chain starts at the next CLOCK_PHASE a day or more ahead of now and goes
    back at its end; the value is that start. It moves before the module's first deployment:
    `admin` (below) sends them all and asks for this first (Ape orders a test's fixtures
    itself, and put this autouse one after some module fixtures).

    Why: the test chain (ape's py-evm) stamps each new block max(parent + 1, the wall clock
    when the parent was mined or a snapshot restored). Near the wall clock, the time between
    two blocks, the second a test starts at after its isolation restores the module's
    snapshot, and whether a test's blocks straddle a UTC midnight or a funding interval's
    end followed how long earlier tests took and how loaded the machine was: a derandomized
    example could take another path, and two withdrawals meant for one pool day could fall
    in two. A day ahead, every block is its parent + 1 s (or where a test sets it) and every
    test of the module starts at the same second, whatever the machine and the order."""
    snapshot = chain.snapshot()
    earliest = chain.pending_timestamp + DAY
    start = earliest + (CLOCK_PHASE - earliest) % FEE_EPOCH
    chain.pending_timestamp = start
    yield start
    chain.restore(snapshot)


@pytest.fixture(scope="module")
def admin(module_clock, accounts):
    """accounts[0] (tests/conftest.py's admin), once the module's clock has moved."""
    return accounts[0]

