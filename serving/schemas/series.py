"""The series a request is about: a stored symbol, or candles given in the body."""

from pydantic import ConfigDict, Field, model_validator

from serving.schemas.common import Body, Finite, Instant, Symbol, Timeframe
from training import scoring


class CandleIn(Body):
    timestamp: Instant
    open: Finite = Field(gt=0)
    high: Finite = Field(gt=0)
    low: Finite = Field(gt=0)
    close: Finite = Field(gt=0)
    volume: Finite = Field(ge=0)


def _no_default(schema: dict) -> None:
    schema.pop("default", None)  # absent, not null: the spec says "one of the two", and null is neither


# exactly one of symbol/candles, said in the schema too (a generated client knows; a fuzzer does
# not call `{}` valid); neither is nullable there, and an explicit null is refused. A subclass
# that sets its own json_schema_extra (examples) spreads ONE_SOURCE into it.
ONE_SOURCE = {"oneOf": [{"required": ["symbol"]}, {"required": ["candles"]}]}


class SeriesRequest(Body):
    """A stored series (`symbol`) or candles given in the body, oldest first: exactly one of the two."""

    model_config = ConfigDict(json_schema_extra=ONE_SOURCE)

    symbol: Symbol = Field(None, description="the latest stored candles of this symbol",  # type: ignore[assignment]
                           json_schema_extra=_no_default)
    timeframe: Timeframe = "1d"
    candles: list[CandleIn] = Field(None, min_length=scoring.MIN_BARS, max_length=20_000,  # type: ignore[assignment]
                                    description="candles given in the body, oldest first", json_schema_extra=_no_default)

    @model_validator(mode="after")
    def _one_source(self) -> "SeriesRequest":
        if self.symbol is None and self.candles is None:
            raise ValueError("give `symbol` (stored candles) or `candles`: neither was given")
        if self.symbol is not None and self.candles is not None:
            raise ValueError("give either `symbol` (stored candles) or `candles`, not both")
        return self
