"""The BentoML service, thin on top of the FastAPI app and the domain packages.

GET routes (and later WebSockets) live in the mounted FastAPI app because `@bentoml.api`
methods are POST only; the POST routes of the API live there too, so that one app, one
error shape and one auth dependency cover the whole contract. Each worker loads the
champion when it starts and polls the alias in the background; live events reach every
worker through the app database, and rate limits are shared through Redis when
TX_REDIS_URL is set (serving/auth.py), so workers and replicas may be added freely. Each worker imports this
module, so each sets up logging and Sentry (when a DSN is set) before building the app.
"""

import sys

import bentoml

from serving.app import create_app
from serving.limits import JsonNotFound
from training.threads import set_threads
from training.recorder import use_store
from tx import observability
from tx.errors import ConfigError
from tx.processes import die_with_server
from tx.settings import load_settings

try:
    settings = observability.setup("service", load_settings())
except ConfigError as exc:  # one line naming the variable, as `tx` says it, not a traceback per worker
    print(f"tx: error: {exc}", file=sys.stderr)
    sys.exit(exc.exit_code)
use_store(settings.tracking_uri)  # MLflow's defaults in this worker: the configured store, never ./mlflow.db
app = create_app(settings)


@bentoml.asgi_app(app, path="/")
# workers: TX_SERVE_WORKERS, else 1; `tx run` asks for 2 (tx/processes.py, BentoML's config override, which wins)
@bentoml.service(name="tx", workers=settings.serve_workers or 1, traffic={"timeout": 30})
class TX:
    """TX Predictive Intelligence service."""

    def __init__(self) -> None:
        die_with_server()  # a worker whose arbiter is killed must not keep serving the port
        set_threads(1)  # for good: see training/threads.py
        app.state.champion.start()
        app.state.online.start()
        app.state.rl.start()


TX.add_asgi_middleware(JsonNotFound)  # paths nothing serves answer in the one error shape
