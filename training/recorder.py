"""The one module through which training talks to MLflow (experiments, runs, registry).

Models never write files themselves; everything goes through a tracking URI and
an artifact root chosen by configuration.
"""

import re
import tempfile
from dataclasses import dataclass

import mlflow
import pandas as pd

from mlflow.entities import Experiment
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

FUSED_MODEL = "tx-fused"
CHAMPION = "champion"
CHALLENGER = "challenger"
OOF_DIR, OOF_FILE = "evaluation", "oof_predictions.parquet"  # a training run's out-of-fold predictions


class TrackingError(RuntimeError):
    """The MLflow store cannot be opened or answered with an error."""


def init_store(tracking_uri: str, artifact_root: str) -> None:
    """Create or migrate a database-backed tracking store with `artifact_root` as its default.

    Left to MlflowClient, the store would be created with `./mlruns` of the current
    folder as the artifact root of its Default experiment.
    """
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    try:
        SqlAlchemyStore(tracking_uri, artifact_root).engine.dispose()
    except Exception as exc:
        raise TrackingError(f"MLflow store {_redact(tracking_uri)}: {type(exc).__name__}: {_line(exc)}") from exc


def client(tracking_uri: str) -> MlflowClient:
    """A client on `tracking_uri`; opening it creates or checks the store's schema."""
    mlflow_client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        mlflow_client.search_experiments(max_results=1)
    except MlflowException as exc:
        raise TrackingError(f"MLflow store {_redact(tracking_uri)}: {_line(exc.message)}") from exc
    except Exception as exc:  # driver errors (unreachable server, bad credentials) surface raw
        raise TrackingError(f"MLflow store {_redact(tracking_uri)}: {type(exc).__name__}: {_line(exc)}") from exc
    return mlflow_client


def ensure_experiment(mlflow_client: MlflowClient, name: str, artifact_root: str) -> Experiment:
    """The experiment `name`, created with its artifacts under `artifact_root/<name>`.

    An explicit artifact location keeps artifacts out of `./mlruns` of whatever
    folder a process happens to run in.
    """
    found = mlflow_client.get_experiment_by_name(name)
    if found is not None:
        return found
    location = f"{artifact_root.rstrip('/')}/{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}"
    try:
        experiment_id = mlflow_client.create_experiment(name, artifact_location=location)
    except MlflowException:  # created concurrently by another process
        found = mlflow_client.get_experiment_by_name(name)
        if found is None:
            raise
        return found
    return mlflow_client.get_experiment(experiment_id)


def champion_version(mlflow_client: MlflowClient, name: str = FUSED_MODEL) -> ModelVersion | None:
    """The version holding the `champion` alias, or None when there is none yet."""
    try:
        return mlflow_client.get_model_version_by_alias(name, CHAMPION)
    except MlflowException:
        return None


def newest_version(mlflow_client: MlflowClient, name: str = FUSED_MODEL) -> ModelVersion | None:
    """The highest version: the head of the online line (the gate, not the line, decides what serves)."""
    versions = mlflow_client.search_model_versions(f"name = '{name}'")
    return max(versions, key=lambda v: int(v.version)) if versions else None


def out_of_fold(tracking_uri: str, version: ModelVersion) -> pd.DataFrame | None:
    """The out-of-fold predictions the version's training run logged (time, symbol,
    timeframe, y, fold, fused, ...), or None for a version without them (an online step)."""
    with tempfile.TemporaryDirectory() as tmp:
        try:
            path = mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path=f"{OOF_DIR}/{OOF_FILE}",
                                                       dst_path=tmp, tracking_uri=tracking_uri)
        except (MlflowException, OSError):
            return None
        return pd.read_parquet(path)


def with_out_of_fold(tracking_uri: str, mlflow_client: MlflowClient, name: str = FUSED_MODEL) -> tuple[ModelVersion, pd.DataFrame, str] | None:
    """(version, its out-of-fold predictions, why this one) for backtesting: the champion when
    it has them, else the newest version that does; None when no version has."""
    champion = champion_version(mlflow_client, name)
    if champion is not None and (oof := out_of_fold(tracking_uri, champion)) is not None:
        return champion, oof, f"champion v{champion.version}"
    versions = sorted(mlflow_client.search_model_versions(f"name = '{name}'"), key=lambda v: -int(v.version))
    for v in versions:
        if (oof := out_of_fold(tracking_uri, v)) is not None:
            why = "no champion yet" if champion is None else f"champion v{champion.version} logged no out-of-fold predictions"
            return v, oof, f"v{v.version}, the newest trained version ({why})"
    return None


@dataclass(frozen=True)
class RegisteredVersion:
    name: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...]


def registered_versions(mlflow_client: MlflowClient) -> list[RegisteredVersion]:
    """Every registered model version with its aliases, newest version first per model."""
    versions: list[RegisteredVersion] = []
    for model in mlflow_client.search_registered_models():
        aliases: dict[str, list[str]] = {}
        for alias, version in (model.aliases or {}).items():
            aliases.setdefault(str(version), []).append(alias)
        for mv in mlflow_client.search_model_versions(f"name = '{model.name}'"):
            versions.append(RegisteredVersion(model.name, str(mv.version), mv.run_id, tuple(sorted(aliases.get(str(mv.version), [])))))
    return sorted(versions, key=lambda v: (v.name, -int(v.version)))


def _line(error: BaseException | str) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "no message")


def _redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri)
