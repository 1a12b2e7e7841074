"""SDK for vault leaders and followers: list, create, deposit, withdraw (or queue), claim, status.

    from offchain.client.vaults import VaultFactoryClient, VaultClient
    factory = VaultFactoryClient.connect(w3, deployment, KeySigner(w3, leader_key))
    address = factory.create("Alpha grid", manager=leader, profit_share_bps=1000)
    vault = VaultClient(w3, address, deployment.usdc, KeySigner(w3, follower_key))
    vault.deposit(usdc_units("500"))
    result = vault.withdraw()          # Paid(...) at once, or Queued(request_id, ...)
    vault.claim(result.request_id)     # once the keeper freed the liquidity

Writes simulate first (offchain.client.wallet.Transactor): a refusal raises TxError with
the vault's reason ("vault: owner stake", "vault: locked", ...) and a sentence, and
changes nothing. Amounts are exact integers (USDC units; vault shares are raw units).
"""

from __future__ import annotations

from dataclasses import dataclass

from web3.logs import DISCARD

from .pool import contract_at
from .wallet import Signer, Transactor, TxError, bounded, view

STRATEGY_KINDS = ("none", "grid", "two-sided quote", "delta-neutral", "custom")
PRICE_SCALE = 10**18


@dataclass(frozen=True, slots=True)
class VaultInfo:
    address: str
    name: str
    owner: str
    manager: str
    profit_share_bps: int
    min_owner_stake_bps: int
    lockup: int
    drawdown_limit_bps: int
    total_assets: int
    total_supply: int
    share_price: int  # USDC units per share, 1e18-scaled
    peak_price: int
    deposits_open: bool
    halted: bool
    unwinding: bool
    queue_length: int
    strategy: str
    strategy_market: int

    @property
    def drawdown_bps(self) -> int:
        """Current drawdown from the peak share price, in bps."""
        if self.peak_price == 0 or self.share_price >= self.peak_price:
            return 0
        return (self.peak_price - self.share_price) * 10_000 // self.peak_price


@dataclass(frozen=True, slots=True)
class Request:
    request_id: int
    shares: int
    value: int  # the cap fixed at request time
    requested_at: int
    ahead: int  # requests in front of it in the FIFO queue


@dataclass(frozen=True, slots=True)
class Holding:
    shares: int
    value: int
    payout: int  # what an instant withdrawal of every share would pay now, after the fee
    fee: int
    basis: int  # high-water mark: USDC cost basis of the remaining shares
    lock_until: int
    requests: tuple[Request, ...]


@dataclass(frozen=True, slots=True)
class Paid:
    shares: int
    assets: int
    fee: int


@dataclass(frozen=True, slots=True)
class Queued:
    request_id: int
    shares: int
    value: int


class VaultFactoryClient:
    def __init__(self, w3, factory: str, signer: Signer | None = None) -> None:
        self.w3 = w3
        self.factory = contract_at(w3, "VaultFactory", factory)
        self.tx = Transactor(w3, signer)

    @classmethod
    def connect(cls, w3, deployment, signer: Signer | None = None) -> "VaultFactoryClient":
        return cls(w3, deployment.vault_factory, signer)

    def addresses(self) -> list[str]:
        f = self.factory.functions
        return [f.vaults(i).call() for i in range(f.vault_count().call())]

    def list(self) -> list[VaultInfo]:
        return [VaultClient(self.w3, a, "").info() for a in self.addresses()]

    def create(self, name: str, manager: str, profit_share_bps: int = 1000, min_owner_stake_bps: int = 500,
               lockup: int = 86_400, drawdown_limit_bps: int = 2000) -> str:
        """Create a vault owned by the signer; returns its address (from VaultCreated)."""
        receipt = self.tx.send(self.factory.functions.create_vault(
            name, manager, profit_share_bps, min_owner_stake_bps, lockup, drawdown_limit_bps))
        events = self.factory.events.VaultCreated().process_receipt(receipt, errors=DISCARD)
        return events[0]["args"]["vault"]


class VaultClient:
    def __init__(self, w3, vault: str, usdc: str, signer: Signer | None = None) -> None:
        self.w3 = w3
        self.vault = contract_at(w3, "Vault", vault)
        self._usdc = usdc
        self.tx = Transactor(w3, signer)

    @property
    def usdc(self):
        return contract_at(self.w3, "TestUSDC", self._usdc or self.vault.functions.asset().call())

    def info(self) -> VaultInfo:
        f = self.vault.functions
        strategy = f.strategy().call()
        return VaultInfo(
            address=self.vault.address, name=f.name().call(), owner=f.owner().call(),
            manager=f.manager().call(), profit_share_bps=f.profit_share_bps().call(),
            min_owner_stake_bps=f.min_owner_stake_bps().call(), lockup=f.lockup().call(),
            drawdown_limit_bps=f.drawdown_limit_bps().call(), total_assets=f.total_assets().call(),
            total_supply=f.totalSupply().call(), share_price=f.share_price().call(),
            peak_price=f.peak_price().call(), deposits_open=f.deposits_open().call(),
            halted=f.halted().call(), unwinding=f.unwinding().call(), queue_length=f.queue_length().call(),
            strategy=STRATEGY_KINDS[strategy[0]] if strategy[0] < len(STRATEGY_KINDS) else str(strategy[0]),
            strategy_market=strategy[1],
        )

    def requests(self, account: str) -> tuple[Request, ...]:
        """`account`'s unclaimed withdrawal requests, oldest first, with their queue position."""
        f = self.vault.functions
        head, tail = f.queue_head().call(), f.queue_tail().call()
        mine = []
        for i in range(head, tail):
            depositor, shares, value, _basis, requested_at, _fee_to = f.requests(i).call()
            if depositor == account:
                mine.append(Request(i, shares, value, requested_at, i - head))
        return tuple(mine)

    def holding(self, account: str) -> Holding:
        f = self.vault.functions
        shares = f.balanceOf(account).call()
        payout, fee = f.preview_withdraw(account, shares).call() if shares else (0, 0)
        return Holding(shares=shares, value=f.convert_to_assets(shares).call(), payout=payout, fee=fee,
                       basis=f.hwm(account).call(), lock_until=f.lock_until(account).call(),
                       requests=self.requests(account))

    def deposit(self, assets: int, slippage_bps: int = 50) -> int:
        """Approve (if needed) and deposit `assets`; returns the shares minted."""
        me = self.tx.address
        if assets <= 0:
            raise TxError("vault: zero assets")
        usdc = self.usdc
        if usdc.functions.balanceOf(me).call() < assets:
            raise TxError("erc20: transfer amount exceeds balance")
        min_shares = bounded(self.vault.functions.convert_to_shares(assets).call(), slippage_bps)
        if usdc.functions.allowance(me, self.vault.address).call() < assets:
            # a refused deposit should not leave an approval behind: check what the vault
            # itself checks before the transfer (deposits open, owner stake, halted)
            self._precheck_deposit(me, assets)
            self.tx.send(usdc.functions.approve(self.vault.address, assets))
        before = self.vault.functions.balanceOf(me).call()
        self.tx.send(self.vault.functions.deposit(assets, min_shares))
        return self.vault.functions.balanceOf(me).call() - before

    def _precheck_deposit(self, me: str, assets: int) -> None:
        f = self.vault.functions
        if f.halted().call() or f.unwinding().call():
            raise TxError("vault: halted")
        if me != f.owner().call():
            if not f.deposits_open().call():
                raise TxError("vault: deposits closed")
            owner_shares = f.balanceOf(f.owner().call()).call()
            active = f.totalSupply().call() - f.pending_shares().call() + f.convert_to_shares(assets).call()
            if owner_shares * 10_000 < f.min_owner_stake_bps().call() * active:
                raise TxError("vault: owner stake")

    def withdraw(self, shares: int | None = None, slippage_bps: int = 50) -> Paid | Queued:
        """Withdraw `shares` (None: all): paid at once when liquidity allows, else queued."""
        me = self.tx.address
        f = self.vault.functions
        if shares is None:
            shares = f.balanceOf(me).call()
            if shares == 0:
                raise TxError("vault: balance", "You hold no shares of this vault.")
        payout, _fee = view(f.preview_withdraw(me, shares)) if shares > 0 else (0, 0)
        receipt = self.tx.send(f.withdraw(shares, bounded(payout, slippage_bps)))
        events = self.vault.events
        for ev in events.Withdraw().process_receipt(receipt, errors=DISCARD):
            return Paid(ev["args"]["shares"], ev["args"]["assets"], ev["args"]["fee"])
        for ev in events.WithdrawalQueued().process_receipt(receipt, errors=DISCARD):
            return Queued(ev["args"]["request_id"], ev["args"]["shares"], ev["args"]["value"])
        raise TxError("", "the withdrawal left neither a Withdraw nor a WithdrawalQueued event")

    def claim(self, request_id: int | None = None) -> Paid:
        """Claim a queued request (None: the signer's oldest); anyone may claim the head."""
        if request_id is None:
            mine = self.requests(self.tx.address)
            if not mine:
                raise TxError("vault: no request", "You have no withdrawal request waiting in this vault.")
            request_id = mine[0].request_id
        receipt = self.tx.send(self.vault.functions.claim(request_id))
        for ev in self.vault.events.WithdrawalClaimed().process_receipt(receipt, errors=DISCARD):
            return Paid(ev["args"]["shares"], ev["args"]["assets"], ev["args"]["fee"])
        raise TxError("", "the claim left no WithdrawalClaimed event")

    def set_strategy(self, kind: str | int, market: int, *, levels: int = 0, lower_price: int = 0,
                     upper_price: int = 0, spacing_bps: int = 0, size_per_level: int = 0, spread_bps: int = 0,
                     hedge_threshold: int = 0, custom: bytes = b"") -> None:
        """Manager publishes the strategy config the keeper runs (docs/vaults.md)."""
        code = STRATEGY_KINDS.index(kind) if isinstance(kind, str) else kind
        self.tx.send(self.vault.functions.set_strategy(
            (code, market, levels, lower_price, upper_price, spacing_bps, size_per_level, spread_bps,
             hedge_threshold, custom)))
