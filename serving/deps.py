"""What several routers share: the served models, a request's candles, a stored symbol's
score, cached reads, the paper broker and provider health. Routers import from here,
never from one another."""

import time

import numpy as np
import pandas as pd
from fastapi import Request
from fastapi.responses import Response

from features.patterns import PATTERNS
from features.sentiment import scores_of
from market.frames import CandleFormatError, conform
from market.quality import validated
from serving import metrics
from serving.champion import NoChampion, Served
from serving.errors import ApiError
from serving.schemas.series import SeriesRequest
from serving.scores import score_answer
from store.candles import coverage, last_price, load_candles
from store.news import load_news
from store.paper import account_state, trades_frame
from store.provider_status import load_provider_status
from store.types import iso
from trading.broker import ACCOUNT, PaperBroker, paper_broker
from trading.scan import score_bar
from training import scoring
from training.recorder import FUSED_MODEL

STARTED = time.time()


def model_of(request: Request, line: str = "champion") -> Served:
    """The model a request uses (`champion`, or `online`: the head of the online line); 503
    while none is loaded. Routes with a body or query call it inside the handler, after
    FastAPI validated the input: a malformed request is a 422 whatever the model state."""
    try:
        return getattr(request.app.state, line).current()
    except NoChampion as exc:
        reason = str(exc)
        if not exc.public:  # "MLflow unreachable: <driver text>", "loading v3 failed: ..."
            reason = f"{reason.split(':', 1)[0]}; retry shortly"
        raise ApiError(503, reason, "no_model", headers={"Retry-After": "60"}) from None


def candles_of(request: Request, body: SeriesRequest, last: int | None = scoring.HISTORY_BARS) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """(candles, news scores) for the request: stored (the `last` bars; None: all) or given,
    checked like any ingested batch."""
    engine = request.app.state.engine
    if body.candles is not None:
        raw = pd.DataFrame([c.model_dump() for c in body.candles])
        try:
            frame = validated(conform(raw, "candles"), "candles")
        except CandleFormatError as exc:
            raise ApiError(422, str(exc), "bad_candles", field="candles") from None  # what JSON Schema cannot say: order, high >= low
        return frame, None
    frame = load_candles(engine, body.symbol, body.timeframe, last=last)
    if frame.empty:
        stored = ", ".join(f"{r.symbol}:{r.timeframe}" for r in coverage(engine).itertuples()) or "none"
        raise ApiError(404, f"no stored candles for {body.symbol}:{body.timeframe}; stored: {stored}")
    if len(frame) < scoring.MIN_BARS:
        raise ApiError(409, f"{body.symbol}:{body.timeframe} has {len(frame)} stored bars; scoring needs {scoring.MIN_BARS}+",
                       "too_few_bars")
    return frame, scores_of(load_news(engine, body.symbol))


def scored(request: Request, body: SeriesRequest, model: Served, endpoint: str = "score") -> dict:
    """The model's score of the request's series as the API answers it. A stored series'
    latest bar is scored once per version (trading/scan.py: the scan usually did it): the
    stored score is answered, read at most once per TX_READ_CACHE_S per worker; only a bar
    no one scored yet is computed here (and stored, to be judged when its label matures)."""
    started = time.perf_counter()
    if body.candles is not None:
        candles, news = candles_of(request, body)
        result = score_answer(scoring.score(model, candles, body.timeframe, news))
    else:
        result = request.app.state.scores.get((model.version, body.symbol, body.timeframe), lambda: stored_answer(request, body, model))
    metrics.observe(endpoint, result, time.perf_counter() - started)
    return {"symbol": body.symbol, **result}


def stored_answer(request: Request, body: SeriesRequest, model: Served) -> dict:
    found = score_bar(request.app.state.engine, model, body.symbol, body.timeframe, FUSED_MODEL)
    if found is None:
        candles_of(request, body)  # raises the 404 (nothing stored) or 409 (too few bars) that says why
    return score_answer(found[0])


def rl_answer(request: Request, body, policy: Served, fused: Served) -> dict:
    """The RL policy's decision on the last stored bar of the body's series (serving/routers/ml.py).
    What the bar shows the agent (its features and the fused probability) is computed once per
    TX_READ_CACHE_S per worker and series, like a stored symbol's score; the position is read
    for every request."""
    from training.rl.env import observation
    from training.rl.position import PositionError, held

    seen = request.app.state.scores.get(("rl", policy.version, fused.version, body.symbol, body.timeframe),
                                        lambda: _rl_bar(request, body, policy, fused))
    close = float(seen["market"].close[-1])
    try:
        if body.position is not None:
            state = held(body.position.side, body.position.quantity, body.position.entry_price, body.position.bars_held, close)
        else:
            state = paper_position(request.app.state.engine, body.symbol, seen["bars"], close)
    except PositionError as exc:
        raise ApiError(422, str(exc), "bad_position", field=f"position.{exc.field}" if exc.field else "position") from None
    p = seen["probability"]
    acted = policy.model.act(observation(seen["market"], len(seen["market"]) - 1, state.vector()))
    return {"symbol": body.symbol, "timeframe": body.timeframe, "action": acted.action, "target_position": acted.target,
            "probabilities": {k: round(v, 6) for k, v in acted.probabilities.items()}, "value": round(acted.value, 6),
            "fused_probability": round(p, 6), "position": state.answer(), "as_of": iso(seen["bars"][-1]),
            "rl_version": policy.version, "fused_version": fused.version,
            "explanation": (f"{acted.action} ({acted.probabilities[acted.action]:.0%}) from the next open: fused P(up) {p:.2f}, "
                            f"holding {state.side} for {state.bars_held} bars at {state.unrealized_return:+.1%} unrealized")}


def _rl_bar(request: Request, body, policy: Served, fused: Served) -> dict:
    """The series' last stored bar as the agent sees it: its features (the one feature path) and
    the fused model's probability there (computed here, not stored: the route only reads)."""
    from training.inputs import model_inputs

    candles, news = candles_of(request, SeriesRequest(symbol=body.symbol, timeframe=body.timeframe))
    p = float(scoring.score(fused, candles, body.timeframe, news).probability)
    X, _ = model_inputs(candles.iloc[-scoring.HISTORY_BARS:], body.timeframe, news=news)
    market = policy.model.market(body.symbol, body.timeframe, candles.iloc[-len(X):], X, pd.Series(p, index=candles.index[-1:]))
    return {"market": market, "probability": p, "bars": candles.index}


def paper_position(engine, symbol: str, bars: pd.DatetimeIndex, close: float):
    """The paper account's position in `symbol` as the agent sees it: side, unrealized return
    from its average price, bars since its oldest open lot (flat when it holds none)."""
    from training.rl.position import held

    state = account_state(engine, ACCOUNT)
    quantity, average = state[2].get(symbol, (0.0, None)) if state else (0.0, None)
    if quantity == 0:
        return held("flat", 0.0, None, 0, close, "paper")
    lots = trades_frame(engine, ACCOUNT, status="open", symbol=symbol)
    since = bars > lots["opened_at"].min() if len(lots) else np.zeros(len(bars), bool)
    return held("long" if quantity > 0 else "short", abs(quantity), average, int(since.sum()), close, "paper")


def stored_candles(engine):
    """The candles_of callable of training.live.judged_by_labels, on the app database."""
    return lambda symbol, timeframe: load_candles(engine, symbol, timeframe)


def cached(request: Request, build) -> Response:
    """A market-data read from this worker's short-lived cache (serving/cache.py)."""
    return request.app.state.reads.response(request, build)


def pattern_name(text: str) -> str:
    """CDLENGULFING, cdlengulfing or engulfing -> CDLENGULFING; a clear 422 otherwise."""
    name = text.strip().upper()
    name = name if name.startswith("CDL") else "CDL" + name.replace("_", "")
    if name not in PATTERNS:
        raise ApiError(422, f"unknown pattern {text!r}: /api/patterns/list has the {len(PATTERNS)} supported", "unknown_pattern",
                       field="pattern")
    return name


def broker(request: Request) -> PaperBroker:
    return paper_broker(request.app.state.engine, request.app.state.settings)


def price_of(request: Request):
    def lookup(symbol: str) -> float:
        found = last_price(request.app.state.engine, symbol)
        if found is None:
            stored = ", ".join(sorted(set(coverage(request.app.state.engine)["symbol"]))) or "none"
            raise ApiError(404, f"no stored candles for {symbol}: nothing to price it with; stored symbols: {stored}")
        return found[0]
    return lookup


def providers_of(request: Request) -> list[dict]:
    """Configured providers in fallback order, with what the last fetch recorded (or `unknown`)."""
    settings = request.app.state.settings
    seen = {r["provider"]: r for r in load_provider_status(request.app.state.engine).to_dict(orient="records")}
    out = []
    for name in [*settings.provider_names, *sorted(set(seen) - set(settings.provider_names))]:
        r = seen.get(name)
        out.append({"provider": name, "configured": name in settings.provider_names,
                    "state": r["state"] if r else "unknown", "calls": r["calls"] if r else 0, "failures": r["failures"] if r else 0,
                    "last_error": r["last_error"] if r else None, "last_error_at": iso(r["last_error_at"]) if r else None,
                    "last_success_at": iso(r["last_success_at"]) if r else None,
                    "latency_ms": None if not r or pd.isna(r["last_latency_ms"]) else round(r["last_latency_ms"], 2),
                    "updated_at": iso(r["updated_at"]) if r else None})
    return out
