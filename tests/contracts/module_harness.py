"""Deploy a stateless Vyper module (contracts/*.vy) behind a tiny harness contract.

Modules such as margin_tiers and funding_math have no external functions of their own;
`deploy_module` generates a harness that exposes the named internal functions under test
with the module's own signatures (read from its source, so the two cannot drift), compiles
it with the project's Vyper against the contracts/ folder and deploys it on Ape's test chain."""

from __future__ import annotations

import re
from pathlib import Path

import vyper
from ape.contracts import ContractContainer
from ethpm_types import ContractType
from vyper.compiler.input_bundle import FilesystemInputBundle

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def deploy_harness(name: str, source: str, sender):
    out = vyper.compile_code(source, input_bundle=FilesystemInputBundle([CONTRACTS]),
                             output_formats=["bytecode", "bytecode_runtime", "abi"])
    contract_type = ContractType.model_validate({
        "contractName": name, "abi": out["abi"],
        "deploymentBytecode": {"bytecode": out["bytecode"]},
        "runtimeBytecode": {"bytecode": out["bytecode_runtime"]},
    })
    return ContractContainer(contract_type).deploy(sender=sender)


def _split_params(params: str) -> list[str]:
    """`a: T, b: DynArray[T, N]` -> the parameters, splitting on top-level commas only."""
    out, depth, start = [], 0, 0
    for i, ch in enumerate(params):
        depth += ch == "[" or ch == "("
        depth -= ch == "]" or ch == ")"
        if ch == "," and depth == 0:
            out.append(params[start:i])
            start = i + 1
    out.append(params[start:])
    return [p.strip() for p in out if p.strip()]


def harness_source(module: str, *functions: str) -> str:
    """A contract that imports contracts/<module>.vy and exposes each of `functions` as an
    external function of the same signature and mutability that returns the module's result."""
    source = (CONTRACTS / f"{module}.vy").read_text()
    parts = []
    for name in functions:
        m = re.search(rf"^((?:@\w+\n)+)def {name}\((.*?)\)\s*(?:->\s*([^:]+?))?\s*:[ \t]*$", source, re.M | re.S)
        if m is None:
            raise ValueError(f"{module}.vy has no function {name}")
        mutability = next(d for d in ("@pure", "@view") if d in m.group(1).split())
        params = _split_params(" ".join(m.group(2).split()))
        args = ", ".join(p.split(":")[0].strip() for p in params)
        returns = f" -> {' '.join(m.group(3).split())}" if m.group(3) else ""
        parts.append(f"@external\n{mutability}\ndef {name}({', '.join(params)}){returns}:\n"
                     f"    return {module}.{name}({args})\n")
    imports = f"import {module}\n" + ("import constants\n" if "constants." in "".join(parts) else "")
    return "# pragma version ~=0.4.3\n" + imports + "\n" + "\n".join(parts)


def deploy_module(module: str, *functions: str, sender):
    """The module's `functions` behind a generated harness (see `harness_source`)."""
    return deploy_harness(f"{module}_harness", harness_source(module, *functions), sender)
