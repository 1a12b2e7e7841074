"""Integers in the keeper's URLs (path segments and query values) follow the wire's integer
rule (offchain.wire.as_int, the write routes' rule): a canonical decimal, `0` or
`[1-9][0-9]*`, at most 78 digits, below 2**256. Anything else is 422 `<param>: bad integer`.

FastAPI's `int` is pydantic's lax parse: it took `+1`, ` 1`, `1 `, `01`, `1.0` and `1_0`
(ten) for a number, so `/book/01` answered market 1's book and `?depth=1_0` ten levels: a
second, undocumented spelling of each URL (a cache or a log keyed by the text sees two
requests, a client that builds URLs by hand never learns its mistake). The rule comes first;
each route's own range answers after it as before (`unknown market`, `unknown fill`,
`depth: Input should be ...`). The OpenAPI type stays `integer`.

    Depth = bounded(1, 500)              # module level: the routers' annotations are strings

    @router.get("/book/{market}")
    async def book(market: UrlInt, depth: Depth = 20) -> dict: ...

A range goes inside the type (`bounded`), not into `Query(ge=, le=)`: FastAPI appends Query's
bounds after the validator, where pydantic applies them to the raw text (a 500).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BeforeValidator, Field
from pydantic_core import PydanticCustomError

from offchain.wire import WireError, as_int

from .admission import Reason


def url_int(value: Any) -> int:
    """A path or query integer by the wire's rule (FastAPI hands over the text)."""
    if isinstance(value, str):
        try:
            return as_int(value)
        except WireError:
            pass
    # the message is the whole rule's name: api.validation_detail prefixes the parameter
    raise PydanticCustomError("bad_integer", str(Reason.BAD_INTEGER))


UrlInt = Annotated[int, BeforeValidator(url_int)]


def bounded(ge: int, le: int) -> Any:
    """UrlInt within ge..le; over it FastAPI's own 422 (`depth: Input should be ...`)."""
    # Field before the validator: the validator runs first, the bounds on its int
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(url_int)]
