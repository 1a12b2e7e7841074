"""Compiled contract artifacts (ABI and bytecode) from Ape's build manifest.

`ape compile` (run by make) writes .build/__local__.json; the keeper and the deploy
helpers talk to the chain through web3.py with these ABIs, without importing Ape.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
MANIFEST_PATH = PROJECT_ROOT / ".build" / "__local__.json"


@dataclass(frozen=True, slots=True)
class Artifact:
    name: str
    abi: list
    bytecode: str  # deployment bytecode, 0x-prefixed


@cache
def _manifest() -> dict:
    if not MANIFEST_PATH.exists():
        raise FileNotFoundError(f"{MANIFEST_PATH} missing: run `ape compile` (make does)")
    return json.loads(MANIFEST_PATH.read_text())


def artifact(name: str) -> Artifact:
    contract_type = _manifest()["contractTypes"][name]
    bytecode = (contract_type.get("deploymentBytecode") or {}).get("bytecode") or "0x"
    return Artifact(name=name, abi=contract_type["abi"], bytecode=bytecode)


def abi(name: str) -> list:
    return artifact(name).abi
