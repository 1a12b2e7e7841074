"""The books bench_matching.py compares the engine with, on the same stream, in one run.

Neither is the product; both do less than the engine (no validation, no bands, no STP,
no events as Python objects, no account index):
- `CppLob`: a conventional C++ price-time book (bench/lob/lob.cpp: std::map levels,
  intrusive FIFO per level, hash index by id), one ctypes call per message. Built with
  the system C++ compiler into .build/bench/ on first use.
- `NautilusBook`: nautilus-trader's L3 (market-by-order) order book, written in Rust,
  through its pyo3 bindings. It is a book, not a matcher: the driver here walks the
  best level's head order (`asks(1)[0].first()`) and deletes or shrinks it per fill,
  the way a venue drives a data book to match. Prices and sizes go in as nautilus's
  fixed-point raw ints (1e-16 units: our 1e-6 USDC price * 10**10, our 1e-18 size // 100).

Each is None-safe to construct: `available()` says why a peer cannot run here (no
compiler, nautilus-trader not installed) and the bench prints that instead of a figure.
"""
from __future__ import annotations

import ctypes
import shutil
import subprocess
from functools import partial
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOB_SRC = ROOT / "bench" / "lob" / "lob.cpp"
LOB_LIB = ROOT / ".build" / "bench" / "liblob.so"


def _build_lob() -> Path:
    """Compile lob.cpp when the library is missing or older than its source."""
    if LOB_LIB.exists() and LOB_LIB.stat().st_mtime >= LOB_SRC.stat().st_mtime:
        return LOB_LIB
    cxx = shutil.which("g++") or shutil.which("c++") or shutil.which("clang++")
    if cxx is None:
        raise RuntimeError("no C++ compiler")
    LOB_LIB.parent.mkdir(parents=True, exist_ok=True)
    tmp = LOB_LIB.with_suffix(".tmp.so")
    subprocess.run([cxx, "-O2", "-std=c++17", "-shared", "-fPIC", "-o", str(tmp), str(LOB_SRC)],
                   check=True)
    tmp.replace(LOB_LIB)
    return LOB_LIB


class CppLob:
    """The C++ book behind the engine's interface (place / cancel / set_mark)."""

    _lib = None

    @classmethod
    def available(cls) -> str | None:
        try:
            cls._load()
        except Exception as e:  # noqa: BLE001 - reported as the reason the peer is skipped
            return f"C++ book not built: {e}"
        return None

    @classmethod
    def _load(cls):
        if cls._lib is None:
            lib = ctypes.CDLL(str(_build_lob()))
            lib.lob_new.restype = ctypes.c_void_p
            lib.lob_free.argtypes = [ctypes.c_void_p]
            lib.lob_place.argtypes = [ctypes.c_void_p, ctypes.c_int64, ctypes.c_int,
                                      ctypes.c_int64, ctypes.c_int64, ctypes.c_int]
            lib.lob_place.restype = ctypes.c_int
            lib.lob_cancel.argtypes = [ctypes.c_void_p, ctypes.c_int64]
            lib.lob_cancel.restype = ctypes.c_int
            lib.lob_resting.argtypes = [ctypes.c_void_p]
            lib.lob_resting.restype = ctypes.c_int64
            cls._lib = lib
        return cls._lib

    def __init__(self, configs) -> None:
        self.lib = self._load()
        self.handle = ctypes.c_void_p(self.lib.lob_new())
        (config,) = configs
        self.tick, self.lot = config.tick, config.lot
        raw = ctypes.CDLL(str(LOB_LIB))  # a second handle: functions without argtypes
        self.fast_place, self.fast_cancel = raw.lob_place32, raw.lob_cancel32

    def __del__(self) -> None:
        if getattr(self, "handle", None) is not None:
            self.lib.lob_free(self.handle)
            self.handle = None

    def place(self, c) -> int:
        return self.bind_place(c)()

    def cancel(self, oid, ts=0) -> int:
        return self.fast_cancel(self.handle, oid)

    def set_mark(self, market, price, ts=0) -> None:
        return None

    def bind_place(self, c):
        """The fastest ctypes call there is: no argtypes (ctypes passes Python ints as C
        int without per-argument converters), price in ticks and size in lots (32-bit),
        side and kind in one flag word; converted here, untimed, as nautilus's objects are."""
        flags = (1 if c.is_buy else 0) | (2 if c.kind else 0)
        return partial(self.fast_place, self.handle, c.id, flags, c.price // self.tick,
                       c.size // self.lot)

    def bind_cancel(self, oid, ts):
        return partial(self.fast_cancel, self.handle, oid)

    def resting(self) -> int:
        return self.lib.lob_resting(self.handle)


class NautilusBook:
    """nautilus-trader's Rust L3 book, matched by a Python driver (see the module doc)."""

    PRICE_SCALE = 10**10  # 1e-6 USDC units -> nautilus raw (1e-16)
    SIZE_DIV = 100        # 1e-18 base units -> nautilus raw (1e-16)

    @classmethod
    def available(cls) -> str | None:
        try:
            from nautilus_trader.core import nautilus_pyo3  # noqa: F401
        except Exception as e:  # noqa: BLE001
            return f"nautilus-trader not importable ({e.__class__.__name__}: {e})"
        return None

    def __init__(self, _configs) -> None:
        from nautilus_trader.core import nautilus_pyo3 as n
        self.n = n
        self.book = n.OrderBook(n.InstrumentId.from_str("ETH-PERP.MMX"), n.BookType.L3_MBO)
        self.orders: dict = {}  # id -> resting BookOrder (for cancel)
        self.fills: list = []   # (maker id, price raw, size raw) of the last place

    def _order(self, c):
        n = self.n
        side = n.OrderSide.BUY if c.is_buy else n.OrderSide.SELL
        price = n.Price.from_raw(c.price * self.PRICE_SCALE, 2)
        return n.BookOrder(side, price, n.Quantity.from_raw(c.size // self.SIZE_DIV, 3), c.id)

    def bind_place(self, c):
        return partial(self._place, self._order(c), c.is_buy, c.price * self.PRICE_SCALE,
                       c.size // self.SIZE_DIV, bool(c.kind))

    def bind_cancel(self, oid, ts):
        return partial(self.cancel, oid)

    def place(self, c) -> None:
        self.bind_place(c)()

    def _place(self, order, is_buy: bool, limit: int, size: int, market: bool) -> None:
        book, orders = self.book, self.orders
        fills = self.fills = []
        best = book.best_ask_price if is_buy else book.best_bid_price
        p = best()  # one cheap probe: most orders do not cross
        if p is not None and (market or (p.raw <= limit if is_buy else p.raw >= limit)):
            head = book.asks if is_buy else book.bids
            while size:
                top = head(1)  # the best level only
                if not top:
                    break
                level = top[0]
                p = level.price.raw
                if not market and (p > limit if is_buy else p < limit):
                    break
                m = level.first()
                msize = m.size.raw
                if msize <= size:
                    book.delete(m, 0, 0, 0)
                    del orders[m.order_id]
                    size -= msize
                    fills.append((m.order_id, p, msize))
                else:
                    n = self.n
                    book.update(n.BookOrder(m.side, m.price,
                                            n.Quantity.from_raw(msize - size, 3), m.order_id),
                                0, 0, 0)
                    fills.append((m.order_id, p, size))
                    size = 0
        if size and not market:
            if size != order.size.raw:
                n = self.n
                order = n.BookOrder(order.side, order.price, n.Quantity.from_raw(size, 3),
                                    order.order_id)
            book.add(order, 0, 0, 0)
            orders[order.order_id] = order

    def cancel(self, oid, ts=0) -> None:
        order = self.orders.pop(oid, None)
        if order is not None:
            self.book.delete(order, 0, 0, 0)

    def set_mark(self, market, price, ts=0) -> None:
        return None

    def resting(self) -> int:
        return len(self.orders)


class CppLobTyped(CppLob):
    """The same C++ book through the usual ctypes form: declared `argtypes`, 64-bit
    arguments in the engine's own units. Printed beside the fast form: the difference is
    the cost of the ctypes call, not of the book."""

    def place(self, c) -> int:
        return self.bind_place(c)()

    def cancel(self, oid, ts=0) -> int:
        return self.lib.lob_cancel(self.handle, oid)

    def bind_place(self, c):
        return partial(self.lib.lob_place, self.handle, c.id, c.is_buy, c.price, c.size, int(c.kind))

    def bind_cancel(self, oid, ts):
        return partial(self.lib.lob_cancel, self.handle, oid)
