"""Replay fills into positions, cost basis and PnL with exact integers.

Cost basis is average cost, as the Exchange keeps it: per market a signed position and a
signed cost (sum of signed entry notionals). A fill that reduces the position releases
cost pro rata and realises (exit - entry) on the closed size; that closed part is one
"round trip" for the win rate, so the round-trip PnLs add up to the realised PnL.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from offchain.analytics.records import SettledFill

WAD = 10**18


def _tdiv(a: int, b: int) -> int:
    """a / b rounded toward zero (b > 0): symmetric for longs and shorts."""
    q = abs(a) // b
    return q if a >= 0 else -q


@dataclass(slots=True)
class MarketBook:
    position: int = 0  # signed base units
    cost: int = 0  # signed USDC units: + for a long's entry cost, - for a short's proceeds

    def unrealised(self, mark: int) -> int:
        return _tdiv(self.position * mark, WAD) - self.cost


@dataclass(slots=True)
class Ledger:
    books: dict[int, MarketBook] = field(default_factory=dict)
    realised: int = 0
    fees: int = 0
    rebates: int = 0
    maker_volume: int = 0
    taker_volume: int = 0
    round_trips: list[int] = field(default_factory=list)  # gross PnL of each closing fill

    def apply(self, fill: SettledFill) -> None:
        book = self.books.setdefault(fill.market, MarketBook())
        traded = fill.price * fill.size // WAD
        if fill.is_maker:
            self.maker_volume += traded
        else:
            self.taker_volume += traded
        self.fees += fill.fee
        self.rebates += fill.rebate
        size = fill.size
        if book.position and (book.position > 0) != fill.is_buy:
            closing = min(size, abs(book.position))
            released = _tdiv(book.cost * closing, abs(book.position))
            exit_value = fill.price * closing // WAD
            pnl = exit_value - released if book.position > 0 else -released - exit_value
            book.cost -= released
            book.position += closing if fill.is_buy else -closing
            if book.position == 0:
                book.cost = 0  # no dust left from rounding once flat
            self.realised += pnl
            self.round_trips.append(pnl)
            size -= closing
        if size:  # opens or adds (the rest of a fill that flipped the position)
            value = fill.price * size // WAD
            book.position += size if fill.is_buy else -size
            book.cost += value if fill.is_buy else -value

    def unrealised(self, marks: dict[int, int]) -> int:
        return sum(b.unrealised(marks[m]) for m, b in self.books.items() if b.position and m in marks)
