# pragma version ~=0.4.3
"""
@title Test USDC
@notice Mintable 6-decimal USDC stand-in for devnets and tests.
"""
from ethereum.ercs import IERC20

from snekmate.auth import ownable
from snekmate.tokens import erc20

initializes: ownable
initializes: erc20[ownable := ownable]

exports: erc20.__interface__

@deploy
def __init__():
    ownable.__init__()
    erc20.__init__("USD Coin (test)", "USDC", 6, "USDC", "1")
