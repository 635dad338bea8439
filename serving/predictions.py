"""Served predictions into the app database, once per (series, bar, version): what
/api/ml/performance later judges against the labels that matured."""

import logging
import threading

import pandas as pd
from cachetools import LRUCache
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.predictions import log_predictions
from training.recorder import FUSED_MODEL

log = logging.getLogger("tx.serving")


class PredictionLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._seen: LRUCache = LRUCache(maxsize=100_000)  # the hot path (same bar again) never touches the database
        self._lock = threading.Lock()

    def record(self, symbol: str, timeframe: str, scored: dict) -> None:
        key = (symbol, timeframe, scored["as_of"], scored["model_version"])
        with self._lock:
            if key in self._seen:
                return
            self._seen[key] = True
        row = {"symbol": symbol, "timeframe": timeframe, "ts": pd.Timestamp(scored["as_of"]).to_pydatetime(),
               "model_name": FUSED_MODEL, "model_version": scored["model_version"], "probability": scored["probability"],
               "direction": scored["direction"], "confidence": scored["confidence"],
               "layers": {k: v["probability"] for k, v in scored["layers"].items()}}
        try:
            log_predictions(self.engine, [row])
        except SQLAlchemyError as exc:  # losing a log line must never fail the prediction; retried next time
            with self._lock:
                self._seen.pop(key, None)
            log.warning("prediction log: %s", str(exc).splitlines()[0][:200])
