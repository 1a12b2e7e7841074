"""Pure risk maths shared by the keeper and the tests (margin tiers: margin.py; liquidation
steps and ADL ranking: liquidation.py)."""
