"""MMX off-chain side: matching core, strategies, keeper, client SDK, analytics.

Fast keccak for every process that imports `offchain` (keeper, client SDK, scripts,
benchmarks): eth_hash picks pycryptodome by default (~10 us per keccak through its ctypes
layer); safe-pysha3 (a pinned dependency, module `sha3`) does the same hash in C in
~1.5 us. eth_hash resolves its backend lazily, at the first hash, from ETH_HASH_BACKEND,
so setting it here, before any offchain module hashes (offchain.order hashes its EIP-712
type strings at import), is enough. `setdefault`: an explicit choice in the environment
wins. Without pysha3 installed eth_hash's own choice stands.
"""

import os as _os

try:
    import sha3 as _sha3  # type: ignore[import-untyped]  # noqa: F401  (pysha3 ships no stubs)

    _os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
except ImportError:  # pragma: no cover
    pass
