# pragma version ~=0.4.3
"""
@title Test USDC with a blacklist
@notice A 6-decimal test token whose owner can blacklist addresses, as Circle can on
        real USDC: a blacklisted address can neither send nor receive. Tests use it to
        show that a payout to such an address never jams a queue (pull payments).
        Never deploy it where it could be mistaken for real USDC.
"""

from ethereum.ercs import IERC20
from snekmate.auth import ownable
from snekmate.tokens import erc20

implements: IERC20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: (
    erc20.totalSupply,
    erc20.balanceOf,
    erc20.approve,
    erc20.allowance,
    erc20.name,
    erc20.symbol,
    erc20.decimals,
    erc20.mint,
    erc20.set_minter,
    erc20.is_minter,
    ownable.owner,
)


# ---------------------------------------------------------------- state

blacklisted: public(HashMap[address, bool])


# ---------------------------------------------------------------- events

event BlacklistSet:
    account: indexed(address)
    blacklisted: bool


@deploy
def __init__():
    """
    @notice Deploy the token; the deployer is owner and minter.
    """
    ownable.__init__()
    erc20.__init__("USD Coin (blacklist test)", "USDC", 6, "USDC", "1")


@external
def transfer(to: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transfer; reverts if either side is blacklisted.
    @param to The receiver.
    @param amount Units of 1e-6.
    @return True.
    """
    assert not self.blacklisted[msg.sender] and not self.blacklisted[to], "usdc: blacklisted"
    erc20._transfer(msg.sender, to, amount)
    return True


@external
def transferFrom(owner: address, to: address, amount: uint256) -> bool:
    """
    @notice ERC-20 transferFrom; reverts if a side is blacklisted.
    @param owner The payer.
    @param to The receiver.
    @param amount Units of 1e-6.
    @return True.
    """
    assert not self.blacklisted[owner] and not self.blacklisted[to], "usdc: blacklisted"
    erc20._spend_allowance(owner, msg.sender, amount)
    erc20._transfer(owner, to, amount)
    return True


@external
def set_blacklisted(account: address, blacklisted: bool):
    """
    @notice Owner blacklists or clears `account`.
    @param account The address.
    @param blacklisted Whether it may no longer send or receive.
    """
    ownable._check_owner()
    self.blacklisted[account] = blacklisted
    log BlacklistSet(account=account, blacklisted=blacklisted)
