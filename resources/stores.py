"""Dagster resources on the stores: the app database and MLflow, configured from values."""

from functools import cached_property

import dagster as dg
from sqlalchemy import Engine

from store.db import make_engine
from training.recorder import use_store


class AppDatabase(dg.ConfigurableResource):
    """The app database (candles, detections, predictions, ...)."""

    url: str

    @cached_property
    def engine(self) -> Engine:
        return make_engine(self.url)

    def teardown_after_execution(self, context: dg.InitResourceContext) -> None:
        if "engine" in self.__dict__:  # only if a step used it
            self.engine.dispose()


class MlflowTracking(dg.ConfigurableResource):
    """Where training logs and registers (MLflow tracking + registry), the gate's threshold,
    and where its tuning studies live (TX_OPTUNA_STORAGE; empty: in memory)."""

    tracking_uri: str
    artifact_root: str
    threshold: float = 0.6
    ui_url: str = "http://127.0.0.1:5000"
    optuna_storage: str = ""

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """In the process that runs a step (a run worker, in DAGSTER_HOME), MLflow's own
        defaults point at this store too: nothing falls back to `./mlflow.db` there."""
        use_store(self.tracking_uri)

    def run_url(self, experiment_id: str, run_id: str) -> str:
        return f"{self.ui_url}/#/experiments/{experiment_id}/runs/{run_id}"

    def model_url(self, name: str, version: str) -> str:
        return f"{self.ui_url}/#/models/{name}/versions/{version}"
