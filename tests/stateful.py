"""How every stateful test runs its machine: one settings shape.

Derandomization and the missing deadline come from the hypothesis profile
(tests/conftest.py: `ci` runs the same examples every time, the seed following the
machine's source; `explore` runs fresh ones). Every health check is off: the steps are
chain round trips (slow by design) and the rules draw with filters on purpose.
"""

from hypothesis import HealthCheck, settings
from hypothesis.stateful import RuleBasedStateMachine, run_state_machine_as_test


def run_machine(machine: type[RuleBasedStateMachine], examples: int, steps: int) -> None:
    """Run `machine` for `examples` examples of up to `steps` steps each."""
    run_state_machine_as_test(
        machine,
        settings=settings(max_examples=examples, stateful_step_count=steps, suppress_health_check=list(HealthCheck)),
    )
