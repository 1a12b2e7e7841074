"""The MMX keeper service (docs/keeper.md): API, admission, matching, settlement, watcher,
oracle feed and journal on one asyncio loop."""

import os as _os

# eth_hash picks pycryptodome by default (~10 us per keccak through its ctypes layer);
# safe-pysha3 (a pinned dependency) does the same hash in C in ~1.5 us. The keeper hashes
# every order twice and every signer once, so it asks for pysha3 before the first hash
# (eth_hash resolves its backend lazily; offchain.order hashes its type at import).
try:
    import sha3 as _sha3  # noqa: F401

    _os.environ.setdefault("ETH_HASH_BACKEND", "pysha3")
except ImportError:  # pragma: no cover
    pass
