# Cython declarations for types.py, which stays interpreted (the API's values are the
# same objects in both builds): the compiled modules cimport Place's layout from here.
# Place (types.py, a msgspec struct, not compiled) as an external type with its instance
# layout, so that `cmd.field` is a C struct load instead of a generic attribute look-up.
# CPython lays out a class's slots (msgspec's fields are slots) in sorted name order after
# the object header; the type's size is checked on import and test_build.py checks every
# field's position against a real Place.
cdef extern from *:
    """
    typedef struct {
        PyObject_HEAD
        PyObject *account, *expiry, *id, *is_buy, *kind, *market, *post_only, *price;
        PyObject *reduce_only, *size, *slippage_bps, *slippage_ref, *stp, *tag, *tif;
        PyObject *trail_amount, *trail_bps, *trigger_price, *ts;
    } mmx_place_layout;
    """
    ctypedef class offchain.matching.types.Place [object mmx_place_layout, check_size error]:
        cdef object account, expiry, id, is_buy, kind, market, post_only, price
        cdef object reduce_only, size, slippage_bps, slippage_ref, stp, tag, tif
        cdef object trail_amount, trail_bps, trigger_price, ts
