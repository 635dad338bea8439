"""The FastAPI app mounted in the BentoML service: the API of docs/API.md.

The app serves its own OpenAPI document at `/docs.json` (alias `/swagger.json`) and the
Swagger page at `/` (alias `/docs`), serving/openapi.py; BentoML serves Prometheus metrics
at `/metrics` and its probes (`/livez`, `/readyz`).
"""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from serving import errors, metrics, openapi
from serving.auth import limiter
from serving.cache import ReadCache
from serving.champion import Champion, online_head, rl_champion
from serving.live import Hub
from serving.live import router as live_router
from serving.limits import BodyLimit
from serving.requestlog import RequestLog
from serving.routers import alerts, backtests, health, market, ml, ml_ops, outcomes, paper, patterns, scan, sentiment, signals, stats
from store.db import make_engine
from tx.settings import Settings, load_settings

LOCALHOST = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


def create_app(settings: Settings | None = None, champion: Champion | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title=openapi.TITLE, openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = make_engine(settings.app_database_url)
    app.state.limiter = limiter(settings)  # shared through Redis when TX_REDIS_URL is set, else per worker
    app.state.champion = champion or Champion(settings.tracking_uri, settings.model_poll_s, on_swap=metrics.swapped("champion"))
    app.state.online = online_head(settings.tracking_uri, settings.model_poll_s)
    app.state.online.on_swap = metrics.swapped("online")
    app.state.rl = rl_champion(settings.tracking_uri, settings.model_poll_s, on_swap=metrics.swapped("rl"))
    app.state.reads = ReadCache(settings.read_cache_s)  # market-data reads
    app.state.scores = ReadCache(settings.read_cache_s)  # a stored symbol's score, per model version
    app.state.hub = Hub(app.state.engine)  # live push; its task starts with the first WebSocket
    errors.install(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_origin_regex=None if origins else LOCALHOST,
                       allow_methods=["GET", "POST"], allow_headers=["X-API-Key", "Content-Type", "Idempotency-Key"])
    app.add_middleware(BodyLimit)
    app.add_middleware(RequestLog)  # outermost: one access line per request, X-Request-ID on every answer
    for module in (health, ml, ml_ops, market, scan, patterns, signals, alerts, paper, stats, outcomes, backtests, sentiment):
        app.include_router(module.router)
    app.include_router(live_router)
    openapi.install(app)
    return app
