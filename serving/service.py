"""The BentoML service, thin on top of the FastAPI app and the domain packages.

For now it serves health only; the predictor and the API of ../shared/API.md
arrive with the serving issue. GET routes live in the mounted FastAPI app
because `@bentoml.api` methods are POST only.
"""

import bentoml

from serving.app import create_app

app = create_app()


@bentoml.asgi_app(app, path="/")
@bentoml.service(name="tx", workers=1, traffic={"timeout": 30})
class TX:
    """TX Predictive Intelligence service."""
