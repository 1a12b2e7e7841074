import ape
from tests.constants import USDC, ZERO



def test_mint__owner__ok(usdc, admin, alice):
    tx = usdc.mint(alice, 7 * USDC, sender=admin)
    assert usdc.balanceOf(alice) == 7 * USDC
    assert tx.events == [usdc.Transfer(sender=ZERO, receiver=alice, value=7 * USDC)]


def test_mint__not_minter__reverts(usdc, stranger):
    with ape.reverts("erc20: access is denied"):
        usdc.mint(stranger, 1, sender=stranger)


def test_set_minter__grants_and_revokes(usdc, admin, minter, alice):
    tx = usdc.set_minter(minter, True, sender=admin)
    assert tx.events == [usdc.RoleMinterChanged(minter=minter, status=True)]
    usdc.mint(alice, 3, sender=minter)
    assert usdc.balanceOf(alice) == 3
    tx = usdc.set_minter(minter, False, sender=admin)
    assert tx.events == [usdc.RoleMinterChanged(minter=minter, status=False)]
    with ape.reverts("erc20: access is denied"):
        usdc.mint(alice, 3, sender=minter)


def test_set_minter__not_owner__reverts(usdc, minter, stranger):
    with ape.reverts("ownable: caller is not the owner"):
        usdc.set_minter(minter, True, sender=stranger)


def test_transfer__moves_balance(usdc, alice, minter):
    usdc.faucet(10 * USDC, sender=alice)
    tx = usdc.transfer(minter, 4 * USDC, sender=alice)
    assert usdc.balanceOf(alice) == 6 * USDC
    assert usdc.balanceOf(minter) == 4 * USDC
    assert tx.events == [usdc.Transfer(sender=alice, receiver=minter, value=4 * USDC)]
