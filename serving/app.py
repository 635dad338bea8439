"""The FastAPI app mounted in the BentoML service: the API of ../shared/API.md.

BentoML serves Swagger UI at `/`, the OpenAPI spec (mounted routes included) at
`/docs.json` and Prometheus metrics at `/metrics`.
"""

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware

from serving import errors
from serving.auth import RateLimiter
from serving.champion import Champion
from serving.routers import health, market, ml, patterns, signals
from store.db import make_engine
from tx.settings import Settings, load_settings

LOCALHOST = r"https?://(localhost|127\.0\.0\.1|\[::1\])(:\d+)?"


def create_app(settings: Settings | None = None, champion: Champion | None = None) -> FastAPI:
    settings = settings or load_settings()
    app = FastAPI(title="TX Predictive Intelligence", openapi_url=None, docs_url=None, redoc_url=None)
    app.state.settings = settings
    app.state.engine = make_engine(settings.app_database_url)
    app.state.limiter = RateLimiter()
    app.state.champion = champion or Champion(settings.tracking_uri, settings.model_poll_s)
    errors.install(app)
    origins = [o.strip() for o in settings.cors_origins.split(",") if o.strip()]
    app.add_middleware(CORSMiddleware, allow_origins=origins, allow_origin_regex=None if origins else LOCALHOST,
                       allow_methods=["GET", "POST"], allow_headers=["X-API-Key", "Content-Type", "Idempotency-Key"])
    app.include_router(health.router)
    app.include_router(ml.router)
    app.include_router(market.router)
    app.include_router(patterns.router)
    app.include_router(signals.router)
    return app
