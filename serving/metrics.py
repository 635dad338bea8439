"""Model metrics beside BentoML's request metrics on `/metrics` (Prometheus).

`bentoml.metrics` registers them in the server's registry (one shared across workers),
so they appear on the same exposition as `bentoml_service_request_*`.
"""

import bentoml

PREDICTIONS = bentoml.metrics.Counter(
    name="tx_predictions_total", documentation="Predictions served, by endpoint and model version.",
    labelnames=["endpoint", "model_version"])
PREDICTION_SECONDS = bentoml.metrics.Histogram(
    name="tx_prediction_seconds", documentation="Time to load candles, compute features and predict, by endpoint.",
    labelnames=["endpoint"], buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0))
PROBABILITY = bentoml.metrics.Histogram(
    name="tx_prediction_probability", documentation="Fused probabilities served (drift shows here first).",
    labelnames=["model_version"], buckets=tuple(i / 10 for i in range(1, 10)))
MODEL_VERSION = bentoml.metrics.Gauge(
    name="tx_model_version", documentation="The tx-fused version each worker (pid) serves.", labelnames=["line"],
    multiprocess_mode="liveall")
MODEL_SWAPS = bentoml.metrics.Counter(
    name="tx_model_swaps_total", documentation="Models swapped in (or failing to load), by line and result.",
    labelnames=["line", "result"])


def observe(endpoint: str, scored: dict, seconds: float) -> None:
    PREDICTIONS.labels(endpoint=endpoint, model_version=scored["model_version"]).inc()
    PREDICTION_SECONDS.labels(endpoint=endpoint).observe(seconds)
    PROBABILITY.labels(model_version=scored["model_version"]).observe(scored["probability"])


def swapped(line: str):
    """A Champion `on_swap` hook for `line` ("champion" or "online")."""
    def hook(served) -> None:
        if served is None:
            MODEL_SWAPS.labels(line=line, result="failed").inc()
            return
        MODEL_SWAPS.labels(line=line, result="loaded").inc()
        MODEL_VERSION.labels(line=line).set(int(served.version))
    return hook
