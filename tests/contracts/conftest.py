"""Guard for Ape's chain isolation across the contract test folders.

Ape's pytest plugin orders each test's fixtures by scope and puts `_function_isolation`
(the per-test snapshot) before the function-scoped ones. It looks a fixture's scope up by
*name* over every definition collected in the session, not just the one the test sees.
So if one module defines a module-scoped `underwater` and another a function-scoped
`underwater`, the function-scoped one is also listed as module-scoped, runs *before* the
per-test snapshot and its chain changes are never reverted: they pile up from test to
test, but only when both modules are collected together.

Fixture names under tests/contracts must therefore have one scope across the session.
"""

import pytest


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
