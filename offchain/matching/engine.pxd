# Cython declarations augmenting engine.py (the compiled build; docs/matching.md): Engine
# as a native class (attributes are C struct fields, methods declared here are C calls
# between themselves), module constants as C statics, the hot paths' locals typed.
# Amounts stay Python ints (book.pxd says why); counters and flags are C values.
cimport cython
from offchain.matching.book cimport Book, Level, PendingTrigger, RestingOrder, new_order
from offchain.matching.protection cimport Breaker
from offchain.matching.types cimport Place

cdef object Accepted, Amended, Cancelled, Expired, Fill, Halted, Rejected, Triggered
cdef object _LIMIT, _MARKET, _GTC, _IOC, _FOK, _GTD, _PO_REJECT, _PO_SLIDE
cdef object _X_TAKER, _X_MAKER, _X_BOTH, _DECREMENT, _PO_VALUES, _MARKET_TIFS, _REF_MARK
cdef object _LIMIT_KIND, _MARKET_KIND, _GTC_KIND, _PO_NONE_KIND, _STP_VALUES, R, _INT, _USER

cpdef list _rejected(object cmd, object reason)
cpdef bint _is_pos_int(object x) except -1

@cython.final
cdef class Engine:
    cdef public dict _books, _orders, _by_account, _positions
    cdef public Py_ssize_t _accounts_sweep_at
    cdef public bint _track_positions
    cdef public object _seq

    cpdef list place(self, object cmd)
    @cython.locals(book=Book, level=Level, order=RestingOrder, owner=dict, levels=dict,
                   opp=list, ev=list, woken=list)
    cpdef list _place(self, Place cmd)
    @cython.locals(opp=list, ev=list, order=RestingOrder)
    cpdef list _place_limit(self, Book book, Place cmd, object price, object size,
                            bint announce, bint dry_run)
    @cython.locals(level=Level, owner=dict, order=RestingOrder)
    cpdef RestingOrder _rest(self, Book book, Place cmd, object price, object size)
    @cython.locals(book=Book)
    cpdef list _reenter_limit(self, object cmd, object price, object size, bint dry_run)
    cpdef _wake(self, Book book, object ts, list ev)
    cpdef object _static_reason(self, Book book, object price, object size)
    cpdef object _check_size(self, Book book, object size)
    cpdef object _place_market(self, Book book, Place cmd, list ev, bint announce)
    cpdef object _place_trigger(self, Book book, object cmd, list ev)
    @cython.locals(levels=dict, keys=list, orders=dict, breaker=Breaker, maker_is_buy=bint,
                   level=Level, m=RestingOrder, traded=bint, track=bint)
    cpdef tuple _match(self, Book book, bint is_buy, object limit, object remaining,
                       object oid, object account, object stp, object ts, list ev)
    cpdef _drop_head(self, RestingOrder m, Level level, list ev, object reason, object ts,
                     object market)
    cpdef object _reducible(self, object account, object market, bint is_buy)
    cpdef object _reduce_only_size(self, object account, object market, bint is_buy,
                                   object size)
    @cython.locals(positions=dict)
    cpdef _apply_fill(self, object taker, object maker, object market, bint taker_buys,
                      object q)
    @cython.locals(level=Level, resting=RestingOrder)
    cpdef list cancel(self, object order_id, object ts=*, object account=*)
    cpdef list _cancel_checked(self, object order_id, object ts, object account)
    @cython.locals(out=list, level=Level, resting=RestingOrder)
    cpdef list cancel_many(self, object order_ids, object ts=*, object account=*)
    cpdef object _cancel_popped_trigger(self, object order_id, PendingTrigger pending,
                                        object ts)
    @cython.locals(by_account=dict, owner=dict)
    cpdef dict _new_owner(self, object account)
    cpdef _unlink_trigger(self, PendingTrigger pending)
    @cython.locals(book=Book, ev=list)
    cpdef list set_mark(self, object market, object price, object ts=*)
    cpdef _push_expiry(self, Book book, tuple entry)
    cpdef _expire_book(self, Book book, object ts, list ev)
