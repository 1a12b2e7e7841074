"""Start-up checks: refuse to start a keeper that could not settle (docs/keeper.md).

A keeper whose operator key lacks OPERATOR_ROLE used to start, match, and then watch
every settle tx revert, pulling makers' orders, with nothing logged at the default level.
Before anything is replayed or served, `preflight` checks, and reports every problem at
once in one message:
- the node's chain id equals the deployment's (when the deployment records one);
- there is code at every configured contract address, and the Exchange's own `oracle()`
  and `usdc()` are the configured ones;
- the operator has the Exchange's OPERATOR_ROLE;
- the reporter has the Oracle's REPORTER_ROLE, when the keeper pushes prices.
"""

from __future__ import annotations

from typing import Any


class StartupError(RuntimeError):
    """The keeper cannot run against this chain / deployment / keys; the message says why."""


async def preflight(chain: Any, contracts: Any, *, reporter_needed: bool) -> None:
    problems: list[str] = []
    expected = int(getattr(contracts, "chain_id", "") or 0)
    if expected and expected != chain.chain_id:
        problems.append(f"chain id is {chain.chain_id}, the deployment is for chain {expected}")
    for name in ("exchange", "oracle", "usdc", "rebate", "pool", "factory"):
        address = getattr(contracts, name, "")
        if address and await chain.rpc.call("eth_getCode", [address, "latest"]) in ("0x", "0x0", None):
            problems.append(f"no contract at {name} address {address}")
    if problems:  # the rest reads those contracts
        raise StartupError(_message(problems))
    ex = chain.exchange
    for name in ("oracle", "usdc"):
        configured = getattr(contracts, name, "")
        if configured:
            actual = await chain.call(ex, name)
            if actual.lower() != configured.lower():
                problems.append(f"the Exchange's {name} is {actual}, the deployment says {configured}")
    operator = chain.operator.address
    role = await chain.call(ex, "OPERATOR_ROLE")
    if not await chain.call(ex, "hasRole", role, operator):
        problems.append(f"operator {operator} lacks OPERATOR_ROLE on the Exchange: every settle would revert "
                        f"(admin: Exchange.grantRole(OPERATOR_ROLE, {operator}))")
    if reporter_needed and chain.oracle is not None:
        reporter = chain.reporter.address
        role = await chain.call(chain.oracle, "REPORTER_ROLE")
        if not await chain.call(chain.oracle, "hasRole", role, reporter):
            problems.append(f"reporter {reporter} lacks REPORTER_ROLE on the Oracle "
                            f"(admin: Oracle.grantRole(REPORTER_ROLE, {reporter}), or [oracle] source = \"none\")")
    if problems:
        raise StartupError(_message(problems))


def _message(problems: list[str]) -> str:
    return "keeper cannot start:\n  - " + "\n  - ".join(problems)
