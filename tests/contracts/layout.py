"""A contract's storage layout as the compiler gives it (`vyper -f layout`): code run by
DELEGATECALL on the Exchange's storage must lay out the ledger's slots the same way."""

import json
import subprocess
from pathlib import Path

CONTRACTS = Path(__file__).resolve().parents[2] / "contracts"


def storage_layout(name: str) -> dict:
    """{variable or module name: its slots} of contracts/{name}.vy."""
    out = subprocess.run(
        ["vyper", "-f", "layout", f"{name}.vy"], cwd=CONTRACTS, capture_output=True, text=True, check=True
    ).stdout
    return json.loads(out)["storage_layout"]
