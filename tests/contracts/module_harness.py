"""Deploy a stateless Vyper module (contracts/*.vy) behind a tiny harness contract.

Modules such as margin_tiers and funding_math have no external functions of their own;
a harness written in the test exposes the internal functions under test. It is compiled
with the project's Vyper against the contracts/ folder and deployed on Ape's test chain."""

from __future__ import annotations

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
