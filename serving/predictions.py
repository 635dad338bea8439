"""Served predictions into the app database, once per (series, bar, version): what
/api/ml/performance later judges against the labels that matured."""

import logging
import threading

from cachetools import LRUCache
from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from store.predictions import log_predictions
from training.recorder import FUSED_MODEL
from training.scoring import Score

log = logging.getLogger("tx.serving")


class PredictionLog:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._seen: LRUCache = LRUCache(maxsize=100_000)  # the hot path (same bar again) never touches the database
        self._lock = threading.Lock()

    def record(self, symbol: str, score: Score) -> None:
        key = (symbol, score.timeframe, score.as_of, score.model_version)
        with self._lock:
            if key in self._seen:
                return
            self._seen[key] = True
        row = score.prediction_row(symbol, FUSED_MODEL)
        try:
            log_predictions(self.engine, [row])
        except SQLAlchemyError as exc:  # losing a log line must never fail the prediction; retried next time
            with self._lock:
                self._seen.pop(key, None)
            log.warning("prediction log: %s", str(exc).splitlines()[0][:200])
