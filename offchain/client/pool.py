"""SDK for LPs: the liquidity pool's status, deposit (approve then deposit) and redeem.

    from offchain.client.pool import PoolClient
    pool = PoolClient.connect(w3, deployment, KeySigner(w3, key))
    pool.deposit(usdc_units("1000"), slippage_bps=50)
    print(pool.status(pool.tx.address))

Every amount is an exact integer (USDC units of 1e-6, LP shares of 1e-12). Writes
simulate first (offchain.client.wallet.Transactor), so a refusal raises TxError with the
pool's reason and a sentence, and changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from offchain.artifacts import abi

from .wallet import Signer, Transactor, TxError, bounded

SHARE_UNIT = 10**12  # one whole LP token (the pool's decimals)


@dataclass(frozen=True, slots=True)
class PoolStatus:
    total_assets: int
    total_supply: int
    nav_per_share: int  # USDC units per whole LP token
    shares: int
    value: int
    withdrawable: int  # USDC the account can withdraw now (lock-up, daily cap, liquidity)
    redeemable: int  # shares the account can redeem now
    lock_until: int  # unix seconds (0: never deposited)
    wallet_usdc: int
    lockup: int  # seconds each deposit locks
    daily_withdraw_bps: int


def contract_at(w3, name: str, address: str):
    """A web3 contract, or a TxError saying no contract is deployed there on this network."""
    if not address or not w3.eth.get_code(address):
        raise TxError("", f"no {name} contract at {address or '(no address)'} on this network "
                          f"(chain id {w3.eth.chain_id}); pass --network and the deployment it belongs to")
    return w3.eth.contract(address=address, abi=abi(name))


class PoolClient:
    def __init__(self, w3, pool: str, usdc: str, signer: Signer | None = None) -> None:
        self.w3 = w3
        self.pool = contract_at(w3, "LiquidityPool", pool)
        self.usdc = contract_at(w3, "TestUSDC", usdc)
        self.tx = Transactor(w3, signer)

    @classmethod
    def connect(cls, w3, deployment, signer: Signer | None = None) -> "PoolClient":
        return cls(w3, deployment.pool, deployment.usdc, signer)

    def status(self, account: str) -> PoolStatus:
        f = self.pool.functions
        return PoolStatus(
            total_assets=f.totalAssets().call(), total_supply=f.totalSupply().call(),
            nav_per_share=f.convertToAssets(SHARE_UNIT).call(),
            shares=(shares := f.balanceOf(account).call()), value=f.convertToAssets(shares).call(),
            withdrawable=f.maxWithdraw(account).call(), redeemable=f.maxRedeem(account).call(),
            lock_until=f.lock_until(account).call(), wallet_usdc=self.usdc.functions.balanceOf(account).call(),
            lockup=f.lockup().call(), daily_withdraw_bps=f.daily_withdraw_bps().call(),
        )

    def faucet(self, assets: int) -> None:
        """Mint test USDC to the signer (devnets: TestUSDC's faucet)."""
        self.tx.send(self.usdc.functions.faucet(assets))

    def deposit(self, assets: int, slippage_bps: int = 50) -> int:
        """Approve (if needed) and deposit `assets`; returns the shares minted."""
        me = self.tx.address
        if assets <= 0:
            raise TxError("pool: zero")
        if self.usdc.functions.balanceOf(me).call() < assets:
            raise TxError("erc20: transfer amount exceeds balance")
        if assets > self.pool.functions.maxDeposit(me).call():
            raise TxError("pool: cap")
        min_shares = bounded(self.pool.functions.previewDeposit(assets).call(), slippage_bps)
        if self.usdc.functions.allowance(me, self.pool.address).call() < assets:
            self.tx.send(self.usdc.functions.approve(self.pool.address, assets))
        before = self.pool.functions.balanceOf(me).call()
        self.tx.send(self.pool.functions.deposit(assets, me, min_shares))
        return self.pool.functions.balanceOf(me).call() - before

    def redeem(self, shares: int | None = None, slippage_bps: int = 50) -> int:
        """Redeem `shares` (None: all redeemable now); returns the USDC received."""
        me = self.tx.address
        if shares is None:
            shares = self.pool.functions.maxRedeem(me).call()
            if shares == 0:
                raise TxError("", "nothing redeemable now (lock-up, daily cap or liquidity)")
        if shares <= 0:
            raise TxError("pool: zero")
        min_assets = bounded(self.pool.functions.previewRedeem(shares).call(), slippage_bps)
        before = self.usdc.functions.balanceOf(me).call()
        self.tx.send(self.pool.functions.redeem(shares, me, me, min_assets))
        return self.usdc.functions.balanceOf(me).call() - before
