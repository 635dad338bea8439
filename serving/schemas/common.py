"""Types every schema shares: the one error shape, the documented error answers, and the
constrained scalars (symbols, finite numbers, 64-bit ids, dates in range, strict quantities).

The bounds are the contract's, stated once: a date is between 1900 and 2200 (pandas cannot
hold years before 1677, and nothing in a market is older than 1900), an id fits a signed
64-bit column, and a number in a body is finite and a number (no `true`, no `"10"`)."""

import re
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, BaseModel, ConfigDict, Field

from market.universe import SYMBOL, TIMEFRAMES

EARLIEST = datetime(1900, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)
MAX_ID = 2**53 - 1  # within a signed 64-bit column, and every id up to it is exact as a double (JavaScript clients, fuzzers)
MAX_BODY_BYTES = 4 * 1024 * 1024  # bodies past this are refused with 413 (serving/limits.py); 20,000 candles fit


INSTANT = r"^(19|20|21)[0-9]{2}-"  # the year as written: 1900..2199 (the date-time format says the rest)


def _instant_text(value: Any) -> Any:
    """Only an ISO-8601 string (or a datetime from Python code): not a number of seconds,
    not a numeric string, which pydantic would otherwise read as a Unix time."""
    if isinstance(value, datetime):
        return value
    if not isinstance(value, str) or not re.match(INSTANT, value):
        raise ValueError(f"must be an ISO-8601 date-time with a time zone, between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


def _in_range(value: datetime) -> datetime:
    # the year as written (what the schema's pattern states), so the contract is checkable
    # from the text alone; pandas holds 1677..2262, so any offset from it is safe
    if not EARLIEST.year <= value.year < LATEST.year:
        raise ValueError(f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}")
    return value


Symbol = Annotated[str, Field(pattern=SYMBOL, description="ticker: letters, digits and . ^ -, 1-32 characters")]
Timeframe = Literal[TIMEFRAMES]  # type: ignore[valid-type]
Instant = Annotated[AwareDatetime, BeforeValidator(_instant_text), AfterValidator(_in_range),
                    Field(description="ISO-8601 with a time zone, between 1900-01-01 and 2200-01-01",
                          json_schema_extra={"pattern": INSTANT})]
Id = Annotated[int, Field(ge=1, le=MAX_ID)]
Finite = Annotated[float, Field(strict=True, allow_inf_nan=False)]  # a JSON number, finite; not a bool or a string
Stamp = Annotated[str, Field(json_schema_extra={"format": "date-time"}, description="ISO-8601 in UTC, e.g. 2024-01-02T15:30:00Z")]  # a time in an answer


def _whole(value: object) -> object:
    """A JSON integer as JSON Schema counts them (410 and 410.0), not true, "410" or 410.5."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


Whole = Annotated[int, BeforeValidator(_whole), Field(strict=True)]  # a whole number in a body


def whole(ge: int, le: int) -> Any:
    """A whole number in a body within [ge, le]. The bounds come before the validator: after
    it, pydantic writes them into the JSON Schema as `ge`/`le`, which no client understands."""
    return Annotated[int, Field(ge=ge, le=le), BeforeValidator(_whole), Field(strict=True)]


class Body(BaseModel):
    """A request body: unknown fields are refused (a typo is an error, not silently ignored)."""

    model_config = ConfigDict(extra="forbid")


class Answer(BaseModel):
    """A response body: documented fields; later versions may add more."""

    model_config = ConfigDict(extra="allow")


class ErrorDetail(BaseModel):
    code: str = Field(description="machine-readable: invalid_request, not_found, unavailable, ...")
    message: str = Field(description="what went wrong and, for bad input, which field and why")
    field: str | None = Field(None, description="the offending field of a refused request, dotted")


class ErrorBody(BaseModel):
    error: ErrorDetail


DESCRIPTIONS = {
    400: "Bad request (a required header is missing)",
    401: "No API key, or an unknown or revoked one",
    403: "The key lacks the scope this operation needs",
    404: "Nothing stored under that name or id",
    409: "Conflicts with the stored state (an Idempotency-Key reused for another order, a closed trade)",
    413: "The body is larger than the documented limit",
    422: "Invalid input: the message names the field and why",
    429: "Rate limit reached: retry after the Retry-After header's seconds",
    501: "Not implemented in this release",
    503: "A store or the model is unavailable: retry after the Retry-After header's seconds",
}
AUTH = (401, 403, 422, 429, 503)  # what any keyed operation can answer


RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"}}


def errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """`responses=` for a route: each status in the one error shape, with its meaning."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in sorted(set(statuses)):
        out[status] = {"model": ErrorBody, "description": DESCRIPTIONS[status]}
        if status in (429, 503):
            out[status]["headers"] = RETRY_AFTER
    return out


def described(meanings: dict[int, str]) -> dict[int | str, dict[str, Any]]:
    """`responses=` like errors(), each status described for this route (which codes it gives and when)."""
    out = errors(*meanings)
    for status, meaning in meanings.items():
        out[status]["description"] = meaning
    return out
