"""MMX off-chain side: matching core, strategies, keeper, client SDK, analytics."""
