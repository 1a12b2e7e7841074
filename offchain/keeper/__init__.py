"""The MMX keeper service (docs/keeper.md): API, admission, matching, settlement, watcher,
oracle feed and journal on one asyncio loop."""
