"""Share-price checks the vault and pool stateful tests share.

A share price is (total assets + 1) / (supply + VIRTUAL_SHARES) (exchange_account.vy);
the checks compare two prices by cross-multiplying, exactly, with both read at the same
block timestamp (the "before" side through `block_id="pending"`, which is the state the
transaction will see), so profit unlocking between the reads plays no part.
"""

from dataclasses import dataclass

VIRTUAL_SHARES = 10**6


@dataclass(frozen=True, slots=True)
class Price:
    total_assets: int
    supply: int

    def num(self) -> int:
        return self.total_assets + 1

    def den(self) -> int:
        return self.supply + VIRTUAL_SHARES


def not_lower(before: Price, after: Price) -> bool:
    """Nobody's shares lost value: the price did not fall."""
    return after.num() * before.den() >= before.num() * after.den()


def within_rounding(before: Price, after: Price) -> bool:
    """The price rose at most by the rounding of one conversion in the holders' favour: one
    share's worth (a deposit or an exact-assets withdrawal rounds the shares) plus one unit
    (a redemption or a mint rounds the assets), spread over the shares after."""
    return after.num() * before.den() <= before.num() * (after.den() + 1) + before.den()


def value_of(shares: int, price: Price) -> int:
    """What `shares` are worth at `price`, rounded down (as a redemption pays)."""
    return shares * price.num() // price.den()


def earned_at_most_unlocked(shares: int, p0: Price, locked0: int, p1: Price, locked1: int, added: int) -> None:
    """Between two reads with no trade, mark move or share change (`added` booked in
    between, `locked0`/`locked1` the profit still locked at each read): the total assets
    rose by exactly what unlocked, and `shares` gained at most their pro-rata part of it
    (+1 unit of rounding)."""
    assert p1.supply == p0.supply
    unlocked = added + locked0 - locked1
    assert p1.total_assets - p0.total_assets == unlocked, (p0, p1, unlocked)
    gained = value_of(shares, p1) - value_of(shares, p0)
    assert gained * p0.den() <= shares * unlocked + p0.den(), (gained, unlocked)
