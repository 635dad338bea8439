"""`tx showcase` (`make showcase`): the whole path to a served champion in one command.

Synthetic series with a planted momentum signal (`market/synthetic.py`) in stores of their
own under `.tx/showcase` (the ones of `make run` are not touched), then `tx run` on them:
the UIs at once, the pipeline as Dagster runs, the gate promoting the fused model, and the
service hot-swapping it in. A second `tx showcase` serves what the first one left.
"""

import os

from tx.settings import ROOT, Settings

PLANTED = {"TX_PROVIDERS": "synthetic", "TX_UNIVERSE": "SYNA:1d,SYNB:1d,SYNC:1d", "TX_SYNTHETIC_SIGNAL": "0.4", "TX_LABEL_HORIZON": "2"}
# The scan alerts on each series' newest bar; at the default 0.85 the planted series' last
# bars (fused confidence about 0.6 at signal 0.4) raise none, and a newcomer saw an empty alert list.
SHOWN = {"TX_ALERT_CONFIDENCE": "0.55"}


def showcase_env(home=ROOT / ".tx" / "showcase") -> dict[str, str]:
    """The planted-signal settings in embedded stores under `home` (database URLs of the
    environment or .env are overridden: the showcase never writes into your stores)."""
    return {**PLANTED, **SHOWN, "TX_HOME": str(home), "DAGSTER_HOME": str(home / "dagster"),
            "MLFLOW_TRACKING_URI": f"sqlite:///{home / 'mlflow.db'}", "TX_MLFLOW_ARTIFACTS": str(home / "mlflow-artifacts"),
            "TX_POSTGRES_URL": "", "TX_DATABASE_URL": "", "TX_DAGSTER_POSTGRES_URL": ""}


def enter() -> None:
    os.environ.update(showcase_env())


def has_champion(settings: Settings) -> str | None:
    """The showcase's champion version, when an earlier showcase left one."""
    from training.recorder import Recorder, TrackingError

    try:
        champion = Recorder(settings.tracking_uri).champion()
    except TrackingError:
        return None
    return champion.version if champion else None


def try_it(settings: Settings) -> str:
    """A key for the showcase's stores and the calls that show the champion at work."""
    from store.api_keys import create_key
    from store.db import make_engine

    engine = make_engine(settings.app_database_url)
    try:
        key = create_key(engine, "admin", "showcase")
    finally:
        engine.dispose()
    url = f"http://{settings.host}:{settings.serving_port}"
    head = f"-H 'X-API-Key: {key}' -H 'Content-Type: application/json'"
    return "\n".join([
        f"try it (an admin key of the showcase's stores: {key}; the service swaps the champion in within TX_MODEL_POLL_S):",
        f"  curl -s -X POST {url}/api/ml/score {head} -d '{{\"symbol\": \"SYNA\"}}'",
        f"  curl -s {url}/api/alerts {head}",
        f"  curl -s -X POST {url}/api/paper-trade/execute {head} -H 'Idempotency-Key: first' "
        "-d '{\"symbol\": \"SYNA\", \"side\": \"buy\", \"quantity\": 10, \"type\": \"market\"}'",
        f"  curl -s {url}/api/paper-trade/portfolio {head}",
        f"  Swagger UI: {url}/  (Authorize with the key)",
    ])
