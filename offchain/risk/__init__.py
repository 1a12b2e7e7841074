"""Pure risk maths shared by the keeper and the tests (margin tiers: margin.py)."""
