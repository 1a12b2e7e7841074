# Cython declarations augmenting protection.py (the compiled build; docs/matching.md).
cimport cython

@cython.final
cdef class Breaker:
    cdef public object move_bps, window, cooldown
    cdef public object mins, maxs
    cpdef object range(self, object ts)
    cpdef bint exceeds(self, object lo, object hi, object price) except -1
    cpdef bint would_trip(self, object price, object ts) except -1
    cpdef record(self, object price, object ts)
    cpdef reset(self)
