"""Model metrics beside BentoML's request metrics on `/metrics` (Prometheus).

`bentoml.metrics` registers them in the server's registry (one shared across workers),
so they appear on the same exposition as `bentoml_service_request_*`. deploy/prometheus/
rules.yml alerts on them; the background workers' gauges are refreshed each time
`/api/workers/health` is read (the README's Operations section: poll it every minute).
"""

import time

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
MODEL_REGISTERED = bentoml.metrics.Gauge(
    name="tx_model_registered_timestamp_seconds", documentation="When the served version was registered (its age: time() minus this).",
    labelnames=["line"], multiprocess_mode="liveall")
WORKER_LAG = bentoml.metrics.Gauge(
    name="tx_worker_lag_seconds", documentation="Seconds since each background job last succeeded (as /api/workers/health last saw it).",
    labelnames=["job"], multiprocess_mode="mostrecent")
WORKER_EXPECTED = bentoml.metrics.Gauge(
    name="tx_worker_expected_interval_seconds", documentation="How often each background job is meant to run.",
    labelnames=["job"], multiprocess_mode="mostrecent")
WORKER_FAILING = bentoml.metrics.Gauge(
    name="tx_worker_failing", documentation="1 when a background job's last run failed.", labelnames=["job"],
    multiprocess_mode="mostrecent")
WORKERS_CHECKED = bentoml.metrics.Gauge(
    name="tx_workers_checked_timestamp_seconds", documentation="When /api/workers/health last read the Dagster instance.",
    multiprocess_mode="mostrecent")
DRIFT_SHARE = bentoml.metrics.Gauge(
    name="tx_model_drift_share", documentation="Share of the served model's features drifted, in the last model_drift report.",
    multiprocess_mode="mostrecent")
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
        if served.registered_at is not None:
            MODEL_REGISTERED.labels(line=line).set(served.registered_at)
    return hook


def workers(report: dict, drift_share: float | None) -> None:
    """The gauges of the background jobs, from a worker_health report (pipelines/status.py)."""
    for row in report["workers"]:
        WORKER_EXPECTED.labels(job=row["job"]).set(row["expected_every_s"])
        WORKER_FAILING.labels(job=row["job"]).set(1 if row["state"] == "failing" else 0)
        if row["lag_s"] is not None:
            WORKER_LAG.labels(job=row["job"]).set(row["lag_s"])
    if drift_share is not None:
        DRIFT_SHARE.set(drift_share)
    WORKERS_CHECKED.set(time.time())
