"""Order nonces for one account: unique and increasing, single-fill orders packed densely.

A single-fill (ONE_FILL) order's fill sets bit `nonce & 255` of the account's bitmap word
`nonce >> 8` on chain (docs/exchange.md, "Single-fill orders"): the first order of a word
writes it from zero (22,100 gas), every later one in the same word rewrites a non-zero word
(2,900 warm / 5,000 cold). So single-fill nonces should fill their words: they come from
reserved words of 256 consecutive nonces, and ordinary orders (whose nonce is only a
uniqueness salt for their `filled[hash]`) take the counter's values outside those words.
An account that mixes both kinds still pays the fresh word once per 256 single-fill
orders, not once per few.

No nonce is handed out twice, and both kinds only grow. Callers start the counter from
the wall clock (µs or ns), so a restarted process stays above its previous run's nonces:
a reservation moves the counter by at most 511, far less than the clock moves between
two runs.
"""

from __future__ import annotations

WORD = 256  # nonces per bitmap word (Exchange: nonce >> 8 selects the word, nonce & 255 the bit)


class OrderNonces:
    """Hands out nonces for one account: `ordinary()` and `one_fill()` never repeat."""

    __slots__ = ("_next", "_one", "_one_end")

    def __init__(self, first: int) -> None:
        self._next = first  # the next value no order has taken
        self._one = 0  # the next single-fill nonce in the reserved word, while < _one_end
        self._one_end = 0

    def ordinary(self) -> int:
        """A nonce for an ordinary order (outside every reserved single-fill word)."""
        nonce = self._next
        self._next += 1
        return nonce

    def one_fill(self) -> int:
        """A nonce for a single-fill order: the next one of the current reserved word, or the
        first of a fresh word (the first whole word at or after the counter)."""
        if self._one >= self._one_end:
            start = -(-self._next // WORD) * WORD
            self._one, self._one_end = start, start + WORD
            self._next = start + WORD
        nonce = self._one
        self._one += 1
        return nonce

    def take(self, one_fill: bool) -> int:
        return self.one_fill() if one_fill else self.ordinary()
