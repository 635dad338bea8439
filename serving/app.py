"""The FastAPI app mounted in the BentoML service: GET resources and WebSockets."""

from fastapi import FastAPI

from serving.routers import health


def create_app() -> FastAPI:
    # BentoML serves Swagger UI at / and the OpenAPI spec (mounted routes included) at /docs.json.
    app = FastAPI(title="TX Predictive Intelligence", openapi_url=None, docs_url=None, redoc_url=None)
    app.include_router(health.router)
    return app
