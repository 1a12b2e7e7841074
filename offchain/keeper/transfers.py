"""The keeper's side of sub-accounts and position transfers (docs/subaccounts.md).

- `SubaccountBook`: which sub-accounts each owner opened, learnt from SubaccountOpened
  logs (rebuilt at start-up like the agent sets; not journaled: the chain is the record).
  Opening links the sub-account's agent set to its owner's (the same set object), so the
  admission and cancel checks, which ask `signer in account.agents`, accept the owner's
  agents for the sub-account exactly as the Exchange does, and a revocation on the owner
  applies to every sub-account at once.
- `touched(entry)`: the accounts a PositionTransferred / CollateralMoved log changed; the
  watcher re-reads their chain snapshot at once (not debounced) and then hands the log to
  the runners, so admission, the liquidation runner's view and /accounts see the move in
  the same poll that read it.
- `TransferRelay` + `router_for_keeper`: POST /transfers checks a signed PositionTransfer
  against the keeper's view (signers, expiry, tick, lot, band at the keeper's mark),
  simulates it and sends `transfer_position` from the operator key (the keeper pays the
  gas; users may call the Exchange directly instead). A refused request changes nothing.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

from eth_utils import to_checksum_address
from fastapi import APIRouter, HTTPException, Request
from web3 import Web3

from offchain.artifacts import abi as artifact_abi
from offchain.order import InvalidSignature, Signature
from offchain.subaccounts import NO_SIGNATURE, PositionTransfer, recover_transfer_signer, transfer_hash
from offchain.wire import decode_json, parse_relay

from .admission import Rejection
from .chain import RpcError, event_topics

log = logging.getLogger("mmx.keeper.transfers")

EXCHANGE_TOPICS = event_topics(artifact_abi("Exchange"))
T_OPENED = EXCHANGE_TOPICS["SubaccountOpened"]
T_MOVED = EXCHANGE_TOPICS["CollateralMoved"]
T_TRANSFERRED = EXCHANGE_TOPICS["PositionTransferred"]
# logs whose topics[1] and topics[2] are the two accounts whose snapshot changed
MOVE_TOPICS = frozenset((T_MOVED, T_TRANSFERRED))
TRANSFER_GAS = 600_000


def _addr(topic: str) -> str:
    return to_checksum_address("0x" + topic[-40:])


def touched(entry: dict) -> tuple[str, str] | None:
    """(source, target) of a CollateralMoved / PositionTransferred log, else None."""
    topics = entry.get("topics") or []
    if len(topics) >= 3 and topics[0] in MOVE_TOPICS:
        return _addr(topics[1]), _addr(topics[2])
    return None


@dataclass
class SubaccountBook:
    """owner -> {index: sub-account}, sub-account -> owner (from SubaccountOpened logs)."""

    owners: dict[str, str] = field(default_factory=dict)
    by_owner: dict[str, dict[int, str]] = field(default_factory=dict)

    def apply(self, core, entry: dict) -> bool:
        """Record a SubaccountOpened log; True if it was one."""
        topics = entry.get("topics") or []
        if len(topics) < 3 or topics[0] != T_OPENED:
            return False
        owner, sub = _addr(topics[1]), _addr(topics[2])
        index = int(entry["data"][2:66], 16)
        self.owners[sub] = owner
        self.by_owner.setdefault(owner, {})[index] = sub
        # one agent set for owner and sub-account: the Exchange's _may_sign accepts the
        # owner's agents for the sub-account (the owner itself arrives by AgentSet(sub, owner))
        owner_state, sub_state = core.account(owner), core.account(sub)
        owner_state.agents |= sub_state.agents
        sub_state.agents = owner_state.agents
        return True

    def view(self, owner: str) -> list[dict]:
        return [{"index": i, "account": a} for i, a in sorted(self.by_owner.get(owner, {}).items())]


class TransferRelay:
    """Check a signed PositionTransfer against the keeper's view, then send it."""

    def __init__(self, service) -> None:
        self.service = service
        self.chain = service.chain
        self.contract = Web3().eth.contract(address=self.chain.exchange.address, abi=artifact_abi("ExchangeAccounts"))

    def _authorised(self, account: str, signer: str) -> bool:
        if signer == account:
            return True
        state = self.service.core.accounts.get(account)
        return state is not None and signer in state.agents

    def check(self, t: PositionTransfer, from_sig: Signature | None, to_sig: Signature | None,
              now_s: int) -> bytes:
        """The digest, or Rejection(reason) with the Exchange's reason words. Pure."""
        core = self.service.core
        info = core.markets.get(t.market)
        if info is None:
            raise Rejection("unknown market")
        if t.expiry < now_s:
            raise Rejection("expired")
        if t.from_account == t.to_account:
            raise Rejection("same account")
        if t.size == 0 or abs(t.size) % info.lot:
            raise Rejection("bad lot")
        if t.price == 0 or t.price % info.tick:
            raise Rejection("bad price")
        mark = core.marks.get(t.market)
        if not mark:
            raise Rejection("stale price")
        if abs(t.price - mark) * 10_000 > mark * info.band_bps:
            raise Rejection("band")
        digest = transfer_hash(t, self.service.gateway.ctx.domain)
        for account, sig in ((t.from_account, from_sig), (t.to_account, to_sig)):
            if sig is None:
                raise Rejection("missing signature")
            try:
                signer = recover_transfer_signer(t, self.service.gateway.ctx.domain, sig)
            except InvalidSignature:
                raise Rejection("bad signature") from None
            if not self._authorised(account, signer):
                raise Rejection("bad signature")
        return digest

    async def relay(self, t: PositionTransfer, from_sig: Signature | None, to_sig: Signature | None) -> dict:
        digest = self.check(t, from_sig, to_sig, int(time.time()))
        args = (t.as_tuple(), from_sig.as_tuple(), to_sig.as_tuple())
        data = self.contract.encode_abi("transfer_position", args=args)
        try:  # the chain has the last word (margin, nonce floors, replay): ask before paying gas
            await self.chain.rpc.call("eth_call", [{"from": self.chain.operator.address, "to": self.contract.address,
                                                    "data": data, "gas": hex(TRANSFER_GAS)}, "latest"])
        except RpcError as exc:
            raise Rejection(_reason(exc.message)) from None
        receipt = await self.chain.transact(self.chain.operator, self.contract, "transfer_position", *args,
                                            gas=TRANSFER_GAS)
        if int(receipt.get("status", "0x0"), 16) != 1:
            raise Rejection("reverted", 409)
        return {"status": "ok", "transfer_hash": "0x" + digest.hex(), "tx_hash": receipt["transactionHash"]}


def _reason(message: str) -> str:
    """'execution reverted: exchange: margin' -> 'margin'."""
    return message.rsplit("exchange: ", 1)[-1].strip() if "exchange: " in message else "reverted"


def router_for_keeper(service) -> APIRouter:
    """POST /transfers (relay), GET /accounts/{owner}/subaccounts (docs/api.md)."""
    router = APIRouter(tags=["sub-accounts"])
    relays: list[TransferRelay] = []  # built on first use: an offline keeper has no chain

    def _relay() -> TransferRelay:
        if getattr(service, "chain", None) is None:
            raise HTTPException(503, "no chain")
        if not relays:
            relays.append(TransferRelay(service))
        return relays[0]

    @router.post("/transfers")
    async def post_transfer(request: Request) -> dict:
        # the one wire codec (offchain.wire): its depth guard, strict integers and
        # signatures; starlette's request.json() had none (a deep body could kill the process)
        try:
            t, from_sig, to_sig = parse_relay(decode_json(await request.body()))
        except ValueError as exc:  # WireError, or PositionTransfer's own range check
            raise HTTPException(422, str(exc)) from None
        return await _relay().relay(t, from_sig, to_sig)

    @router.get("/accounts/{address}/subaccounts")
    async def subaccounts(address: str) -> dict:
        try:
            owner = to_checksum_address(address)
        except ValueError:
            raise HTTPException(400, "not an address") from None
        watcher = getattr(service, "watcher", None)
        if watcher is None:
            raise HTTPException(503, "no chain")
        book = watcher.subaccounts
        return {"owner": owner, "subaccounts": book.view(owner), "owner_of": book.owners.get(owner)}

    return router


__all__ = ["NO_SIGNATURE", "SubaccountBook", "TransferRelay", "router_for_keeper", "touched"]
