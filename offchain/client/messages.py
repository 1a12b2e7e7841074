"""The client's name for the shared wire codec: everything lives in `offchain.wire`,
which the keeper imports too (one module, one set of rules; docs/api.md)."""

from offchain.wire import (  # noqa: F401 - re-exported
    CANCEL_TYPE,
    CANCEL_TYPEHASH,
    TIFS,
    Cancel,
    PlaceRequest,
    WireError,
    as_int,
    checksum,
    hash_hex,
    order_from_json,
    order_to_json,
    parse_place,
    place_request,
)
