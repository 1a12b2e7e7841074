"""The contract modules' clock (tests/contracts/conftest.py `module_clock`): a module starts
at the same phase of the contracts' periods in every run, before its deployments, and its
blocks are a second apart whatever the wall clock does meanwhile."""

from tests.contracts.conftest import CLOCK_PHASE, FEE_EPOCH


def test_module_clock__start__noon_mid_fee_epoch_before_the_deployments(chain, module_clock, oracle):
    assert module_clock % FEE_EPOCH == CLOCK_PHASE
    assert oracle.price_info(1)[1] >= module_clock  # the stack's prices are set on the module's clock


def test_module_clock__blocks__one_second_apart(chain, usdc, admin, maker):
    first = chain.blocks.head.timestamp
    for _ in range(3):
        usdc.mint(maker, 1, sender=admin)
    assert chain.blocks.head.timestamp == first + 3
