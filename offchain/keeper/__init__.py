"""The MMX keeper service (docs/keeper.md): API, admission, matching, settlement, watcher,
oracle feed and journal on one asyncio loop.

The fast keccak backend (pysha3) is chosen project-wide in `offchain/__init__.py`."""
