# Cython declarations augmenting book.py (the compiled build; docs/matching.md): native
# classes whose attributes are C struct fields. Amounts stay Python ints (`object`): sizes
# are uint256 base units on chain (above 2**63 for ~9 whole units of an 18-decimal asset)
# and prices are unbounded when a market has no notional limit, so neither provably fits
# a C integer; counters do.
cimport cython
from offchain.matching.protection cimport Breaker

@cython.final
cdef class Level:
    cdef public object price, key, orders, size
    cdef public Py_ssize_t dead
    cdef public dict levels
    cdef public list keys
    cdef public object market
    cpdef compact(self)
    cpdef drop(self)
    cpdef object cancel(self, RestingOrder order)

@cython.final
cdef class RestingOrder:
    cdef public object id, account, price, size, cmd
    cdef public Level level
    cdef public dict owner

@cython.locals(order=RestingOrder)
cpdef RestingOrder new_order(object id, object account, object price, object size, object cmd,
                             Level level, dict owner)

@cython.final
cdef class PendingTrigger:
    cdef public object id, account, cmd, extreme

@cython.final
cdef class Book:
    cdef public object config, market, tick, lot, min_size, max_size, max_notional
    cdef public object band_bps, default_stp, size_floor, size_cap, notional_cap
    cdef public dict size_limits
    cdef public object wake_at
    cdef public dict bids, asks
    cdef public list bid_prices, ask_keys
    cdef public object mark, band_lo, band_hi
    cdef public Breaker breaker
    cdef public object halted_until
    cdef public list expiries
    cdef public object next_expiry
    cdef public dict triggers
    cpdef object size_limit(self, object size)
    cpdef rewake(self)
    cpdef object best_bid(self)
    cpdef object best_ask(self)
    @cython.locals(levels=dict, level=Level, keys=list)
    cpdef Level level_for(self, object price, object is_buy)
    cpdef set_mark(self, object price)
