"""The fast keccak backend (pysha3) is chosen project-wide by `import offchain`, not only
inside the keeper package, and the order hash is the same with either backend."""

import os
import subprocess
import sys


from offchain.order import Domain, Order, order_hash

PROBE = """
import os, sys
import offchain.client                      # the SDK alone: no keeper import
assert "offchain.keeper" not in sys.modules
from eth_hash.auto import keccak
keccak(b"")
print(os.environ.get("ETH_HASH_BACKEND"), type(keccak.hasher.__self__).__module__)
"""

ORDER = Order("0x" + "ab" * 20, 1, True, 2_000_000_000, 10**17, 7, 2_000_000_000, 1)
DOMAIN = Domain(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3")


def _probe(env: dict) -> str:
    return subprocess.run([sys.executable, "-c", PROBE], env=env, capture_output=True, text=True,
                          check=True).stdout.strip()


def test_keccak_backend__import_offchain__pysha3_without_keeper():
    env = {k: v for k, v in os.environ.items() if k != "ETH_HASH_BACKEND"}
    assert _probe(env) == "pysha3 eth_hash.backends.pysha3"


def test_keccak_backend__explicit_environment__wins():
    env = {**os.environ, "ETH_HASH_BACKEND": "pycryptodome"}
    assert _probe(env) == "pycryptodome eth_hash.backends.pycryptodome"


def test_keccak_backend__order_hash__same_under_pycryptodome():
    code = ("from offchain.order import Domain, Order, order_hash;"
            f"print(order_hash(Order(*{ORDER.as_tuple()!r}), Domain(31337, {DOMAIN.exchange!r})).hex())")
    env = {**os.environ, "ETH_HASH_BACKEND": "pycryptodome"}
    other = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                           check=True).stdout.strip()
    assert other == order_hash(ORDER, DOMAIN).hex()
