# pragma version ~=0.4.3
"""
@title Test USDC
@notice Mintable 6-decimal USDC stand-in for devnets and tests.
        - The owner (deployer) is a minter and can add or remove minters
          (`set_minter`, snekmate erc20); minters call `mint(to, amount)`.
        - Anyone can draw up to `FAUCET_MAX` (1,000,000 USDC) per call from
          `faucet(amount)` while the owner keeps the faucet open (it is open at
          deployment). Never deploy this token where it could be mistaken for
          real USDC.
@dev Built on snekmate's `erc20` (with `ownable`); everything it exports is
     exported unchanged (transfer, approve, permit, burn, mint, set_minter,
     transfer_ownership, ...).
"""
from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__


# @dev Largest amount one `faucet` call mints: 1,000,000 USDC (6 decimals).
FAUCET_MAX: public(constant(uint256)) = 1_000_000 * 10**6


# @dev Whether `faucet` is open to everyone.
faucet_open: public(bool)


event Faucet:
    receiver: indexed(address)
    amount: uint256


event FaucetOpenSet:
    is_open: bool


@deploy
def __init__():
    """
    @notice Deploy the token; the deployer becomes owner and minter, and the
            faucet starts open.
    """
    ownable.__init__()
    erc20.__init__("USD Coin (test)", "USDC", 6, "USDC", "1")
    self.faucet_open = True
    log FaucetOpenSet(is_open=True)


@external
def faucet(amount: uint256):
    """
    @notice Mint `amount` (6 decimals) to the caller; at most `FAUCET_MAX`
            per call.
    @param amount The amount to mint, in USDC units of 1e-6.
    """
    assert self.faucet_open, "usdc: faucet closed"
    assert amount != 0, "usdc: zero amount"
    assert amount <= FAUCET_MAX, "usdc: faucet cap"
    erc20._mint(msg.sender, amount)
    log Faucet(receiver=msg.sender, amount=amount)


@external
def set_faucet_open(is_open: bool):
    """
    @notice Open or close the public faucet (owner only).
    @param is_open True to open it, False to close it.
    """
    assert msg.sender == ownable.owner, "usdc: not owner"
    assert self.faucet_open != is_open, "usdc: unchanged"
    self.faucet_open = is_open
    log FaucetOpenSet(is_open=is_open)
