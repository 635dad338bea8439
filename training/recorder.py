"""The one module through which TX talks to MLflow: experiments, runs, the model registry.

A `Recorder` on a tracking URI (and an artifact root chosen by configuration) is the whole
interface: a run records params, metrics, figures, files and the pyfunc model; the
registry answers which version is champion or newest, loads a version's model, moves
aliases and keeps version tags. Nothing else imports mlflow (tests/test_layout.py checks),
except `training/model.py`, whose pyfunc must subclass MLflow's PythonModel.
Models never write files themselves; everything goes through the tracking URI and the
artifact root.
"""

import re
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow.entities import Experiment, Metric, Param
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient
from mlflow.tracking.context.registry import resolve_tags
from mlflow.utils.mlflow_tags import MLFLOW_RUN_NAME

FUSED_MODEL = "tx-fused"
RL_MODEL = "tx-rl"  # the reinforcement-learning agent (training/rl/), gated on trading figures
RL_EXPERIMENT = "tx-rl"
POLICY_DIR = "policy"  # where an RL run logs its policy files (the registered version's source)
CHAMPION = "champion"
CHALLENGER = "challenger"
OOF_DIR, OOF_FILE = "evaluation", "oof_predictions.parquet"  # a training run's out-of-fold predictions
# MLflow 3's UI opens an experiment in its machine-learning view (runs, models, charts)
# instead of its GenAI view (traces, judges, prompts) when this experiment tag says so.
EXPERIMENT_KIND_TAG, MODEL_TRAINING = "mlflow.experimentKind", "custom_model_development"


class TrackingError(RuntimeError):
    """The MLflow store cannot be opened or answered with an error."""


@dataclass(frozen=True)
class Version:
    """A registered model version as TX reads it."""

    name: str
    version: str
    run_id: str | None
    aliases: tuple[str, ...] = ()
    tags: dict[str, str] = field(default_factory=dict, compare=False)
    registered_at: float | None = None  # Unix seconds


@dataclass(frozen=True)
class RunRecord:
    """What a finished run holds: its latest metrics, params and tags."""

    run_id: str
    experiment_id: str
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    start_time: float | None = None  # Unix seconds: when the work the run records began
    end_time: float | None = None  # Unix seconds (None while it runs)


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
    """The experiment `name`, created with its artifacts under `artifact_root/<name>` (or, through
    a tracking server, under the server's artifact destination) and marked as a model-training
    experiment (an existing one is marked when opened).

    An explicit artifact location keeps artifacts out of `./mlruns` of whatever
    folder a process happens to run in.
    """
    found = mlflow_client.get_experiment_by_name(name)
    if found is None:
        folder = re.sub(r"[^A-Za-z0-9._-]+", "_", name)
        # Through a tracking server, artifacts go through it (`mlflow-artifacts:`, stored in its
        # --artifacts-destination): no process but the server needs to reach where they live.
        served = mlflow_client.tracking_uri.startswith(("http://", "https://"))
        location = f"mlflow-artifacts:/{folder}" if served else f"{artifact_root.rstrip('/')}/{folder}"
        try:
            experiment_id = mlflow_client.create_experiment(name, artifact_location=location,
                                                            tags={EXPERIMENT_KIND_TAG: MODEL_TRAINING})
        except MlflowException:  # created concurrently by another process
            found = mlflow_client.get_experiment_by_name(name)
            if found is None:
                raise
        else:
            return mlflow_client.get_experiment(experiment_id)
    if found.tags.get(EXPERIMENT_KIND_TAG) != MODEL_TRAINING:
        mlflow_client.set_experiment_tag(found.experiment_id, EXPERIMENT_KIND_TAG, MODEL_TRAINING)
        found = mlflow_client.get_experiment(found.experiment_id)
    return found


class Run:
    """An open run: what is logged here lands on this run, whichever run is active, through the
    run's own client (on the recorder's store, not MLflow's process-wide default)."""

    def __init__(self, mlflow_client: MlflowClient, run_id: str, experiment_id: str) -> None:
        self._client, self.id, self.experiment_id = mlflow_client, run_id, experiment_id

    def log_params(self, params: dict[str, Any]) -> None:
        if params:
            self._client.log_batch(self.id, params=[Param(key, str(value)) for key, value in params.items()])

    def log_metrics(self, metrics: dict[str, float], step: int | None = None) -> None:
        now = int(time.time() * 1000)
        if metrics:
            self._client.log_batch(self.id, metrics=[Metric(key, float(value), now, step or 0) for key, value in metrics.items()])

    def log_steps(self, key: str, points: Iterable[tuple[int, float, pd.Timestamp]]) -> None:
        """One metric as a series of (step, value, time) points, each stamped with the time it
        describes (a sample's bar, say) rather than when it was logged, sent in batches.
        The run's latest value of `key` is then the one at the highest step."""
        metrics = [Metric(key, float(value), int(pd.Timestamp(when).timestamp() * 1000), int(step)) for step, value, when in points]
        if metrics:
            self._client.log_batch(self.id, metrics=metrics)

    def log_figure(self, figure, path: str) -> None:
        """A matplotlib figure as a PNG artifact at `path` (the caller closes it)."""
        self._client.log_figure(self.id, figure, path)

    @contextmanager
    def artifacts(self, folder: str | None = None) -> Iterator[Path]:
        """A scratch folder whose files are logged under `folder` (the run's root when None)
        when the block ends; nothing is logged for an empty one."""
        with tempfile.TemporaryDirectory() as tmp:
            yield Path(tmp)
            if any(Path(tmp).iterdir()):
                self._client.log_artifacts(self.id, tmp, folder)

    @contextmanager
    def child(self, name: str, tags: dict[str, str] | None = None) -> Iterator["Run"]:
        """A run nested under this one, in the same experiment (left to MLflow, a nested run
        lands in its active experiment, else `Default`, away from its parent)."""
        self._require_active()
        with mlflow.start_run(run_name=name, nested=True, parent_run_id=self.id, tags=tags,
                              experiment_id=self.experiment_id) as active:
            yield Run(self._client, active.info.run_id, active.info.experiment_id)

    def log_model(self, model: "mlflow.pyfunc.PythonModel", *, input_example: pd.DataFrame, output: Any,
                  params: dict[str, Any], requirements: list[str], registered_name: str = FUSED_MODEL) -> str:
        """Log `model` as this run's pyfunc `model` (signature inferred from the example, its
        output and the params; pinned requirements) and register it as a new version of
        `registered_name`; returns the version."""
        from mlflow.models import infer_signature  # heavy: only where models are logged

        self._require_active()
        info = mlflow.pyfunc.log_model(
            name="model", python_model=model, signature=infer_signature(input_example, output, params=params),
            input_example=input_example, pip_requirements=requirements, registered_model_name=registered_name,
        )
        return str(info.registered_model_version)

    def register_files(self, folder: Path, registered_name: str, artifact_path: str = POLICY_DIR) -> str:
        """Log the files of `folder` under `artifact_path` and register them as a new version of
        `registered_name` (created if need be); returns the version. For models that are not a
        pyfunc (the RL policy: a stable-baselines3 zip and its observation spec)."""
        self._client.log_artifacts(self.id, str(folder), artifact_path)
        with _answering():
            try:
                self._client.create_registered_model(registered_name)
            except MlflowException as exc:
                if "already exists" not in str(exc.message) and "ALREADY_EXISTS" not in str(exc.error_code):
                    raise
            source = f"{self._client.get_run(self.id).info.artifact_uri.rstrip('/')}/{artifact_path}"
            return str(self._client.create_model_version(registered_name, source, run_id=self.id).version)

    def _require_active(self) -> None:
        active = mlflow.active_run()
        if active is None or active.info.run_id != self.id:
            raise RuntimeError(f"run {self.id} is not the active run: close its child runs first")


class Recorder:
    """Experiments, runs and the registry on one tracking store.

    Cheap to make: the store is opened (and checked: TrackingError when it cannot answer)
    on the first call that needs it.
    """

    def __init__(self, tracking_uri: str, artifact_root: str = "") -> None:
        self.tracking_uri, self.artifact_root = tracking_uri, artifact_root
        self._client: MlflowClient | None = None

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = client(self.tracking_uri)
        return self._client

    # -- the store -----------------------------------------------------------------------

    def init_store(self) -> None:
        """Create or migrate a database-backed tracking store with the artifact root as its
        default.

        Left to MlflowClient, the store would be created with `./mlruns` of the current
        folder as the artifact root of its Default experiment.
        """
        from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

        try:
            SqlAlchemyStore(self.tracking_uri, self.artifact_root).engine.dispose()
        except Exception as exc:
            raise TrackingError(f"MLflow store {_redact(self.tracking_uri)}: {type(exc).__name__}: {_line(exc)}") from exc

    def check(self) -> None:
        """Raise TrackingError unless the store answers."""
        client(self.tracking_uri)

    def experiment(self, name: str) -> Experiment:
        return ensure_experiment(self.client, name, self.artifact_root)

    # -- runs ----------------------------------------------------------------------------

    @contextmanager
    def run(self, experiment: str, name: str, tags: dict[str, str], started: float | None = None) -> Iterator[Run]:
        """A new top-level run of `experiment` (created if need be), ended when the block ends.

        `started` (Unix seconds, `time.time()`) is when the work the run records began, measured
        before that work: the run starts then, so its duration is the work's (a training's 22
        minutes) rather than the seconds its logging took. Default: now."""
        mlflow_client = self.client
        use_store(self.tracking_uri)  # the fluent API (models, nested runs) on the same store
        exp = self.experiment(experiment)
        # MLflow's fluent start_run always starts a run now: create it with its real start time
        # (and the tags start_run would add: user, source) and make that run the active one.
        created = mlflow_client.create_run(exp.experiment_id, start_time=None if started is None else int(started * 1000),
                                           tags=resolve_tags({**tags, MLFLOW_RUN_NAME: name}), run_name=name)
        with mlflow.start_run(run_id=created.info.run_id) as active:
            yield Run(mlflow_client, active.info.run_id, exp.experiment_id)

    def read_run(self, run_id: str) -> RunRecord:
        with _answering():
            run = self.client.get_run(run_id)
        return RunRecord(run.info.run_id, run.info.experiment_id, dict(run.data.metrics), dict(run.data.params), dict(run.data.tags),
                         _seconds(run.info.start_time), _seconds(run.info.end_time))

    # -- the registry --------------------------------------------------------------------

    def version(self, name: str, version: str | int) -> Version:
        with _answering():
            return _version(self.client.get_model_version(name, str(version)))

    def champion(self, name: str = FUSED_MODEL) -> Version | None:
        """The version holding the `champion` alias, or None when there is none yet."""
        try:
            return _version(self.client.get_model_version_by_alias(name, CHAMPION))
        except MlflowException:
            return None

    def newest(self, name: str = FUSED_MODEL) -> Version | None:
        """The highest version: the head of the online line (the gate, not the line, decides what serves)."""
        versions = self.client.search_model_versions(f"name = '{name}'")
        return _version(max(versions, key=lambda v: int(v.version))) if versions else None

    def versions_of(self, name: str = FUSED_MODEL) -> list[Version]:
        """Every version of `name`, newest first (aliases not filled in; `champion` names that one)."""
        return [_version(mv) for mv in sorted(self.client.search_model_versions(f"name = '{name}'"), key=lambda v: -int(v.version))]

    def versions(self) -> list[Version]:
        """Every registered model version with its aliases and tags, newest version first per model."""
        found: list[Version] = []
        for model in self.client.search_registered_models():
            aliases: dict[str, list[str]] = {}
            for alias, version in (model.aliases or {}).items():
                aliases.setdefault(str(version), []).append(alias)
            for mv in self.client.search_model_versions(f"name = '{model.name}'"):
                found.append(_version(mv, tuple(sorted(aliases.get(str(mv.version), [])))))
        return sorted(found, key=lambda v: (v.name, -int(v.version)))

    def load(self, version: str, name: str = FUSED_MODEL):
        """The Python model that `version` of `name` logged (for TX, a FusedModel).

        Both URIs are set: loading a version reads its logged model from the tracking store
        too, and MLflow 3 would otherwise open (and create) `./mlflow.db` in the current folder."""
        use_store(self.tracking_uri)
        return mlflow.pyfunc.load_model(f"models:/{name}/{version}").unwrap_python_model()

    def download(self, version: Version, dst: str, artifact_path: str = POLICY_DIR) -> Path:
        """The files a version's run logged under `artifact_path` (its registered source), copied
        into `dst` (TrackingError when they cannot be read)."""
        try:
            return Path(mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path=artifact_path, dst_path=dst,
                                                            tracking_uri=self.tracking_uri))
        except (MlflowException, OSError) as exc:
            raise TrackingError(f"{version.name} v{version.version}: its {artifact_path} files cannot be read: {_line(exc)}") from exc

    def set_alias(self, name: str, alias: str, version: str) -> None:
        with _answering():
            self.client.set_registered_model_alias(name, alias, version)

    def set_version_tags(self, name: str, version: str, tags: dict[str, str]) -> None:
        with _answering():
            for key, value in tags.items():
                self.client.set_model_version_tag(name, version, key, value)

    def describe(self, name: str, version: str, description: str) -> None:
        self.client.update_model_version(name, version, description=description)

    def out_of_fold(self, version: Version) -> pd.DataFrame | None:
        """The out-of-fold predictions the version's training run logged (time, symbol,
        timeframe, y, fold, fused, ...), or None for a version without them (an online step)."""
        with tempfile.TemporaryDirectory() as tmp:
            try:
                path = mlflow.artifacts.download_artifacts(run_id=version.run_id, artifact_path=f"{OOF_DIR}/{OOF_FILE}",
                                                           dst_path=tmp, tracking_uri=self.tracking_uri)
            except (MlflowException, OSError):
                return None
            return pd.read_parquet(path)

    def with_out_of_fold(self, name: str = FUSED_MODEL) -> tuple[Version, pd.DataFrame, str] | None:
        """(version, its out-of-fold predictions, why this one) for backtesting: the champion when
        it has them, else the newest version that does; None when no version has."""
        champion = self.champion(name)
        if champion is not None and (oof := self.out_of_fold(champion)) is not None:
            return champion, oof, f"champion v{champion.version}"
        versions = sorted(self.client.search_model_versions(f"name = '{name}'"), key=lambda v: -int(v.version))
        for v in map(_version, versions):
            if (oof := self.out_of_fold(v)) is not None:
                why = "no champion yet" if champion is None else f"champion v{champion.version} logged no out-of-fold predictions"
                return v, oof, f"v{v.version}, the newest trained version ({why})"
        return None


def use_store(tracking_uri: str) -> None:
    """Point this process's MLflow defaults (tracking and registry; MLflow also exports the
    tracking URI as MLFLOW_TRACKING_URI, so processes started from here inherit it) at
    `tracking_uri`.

    Whatever MLflow does without being handed a URI then lands in the configured store;
    left alone, MLflow falls back to `sqlite:///mlflow.db` (or `./mlruns`) in the current
    folder, and a process whose working folder is DAGSTER_HOME would grow a stray, empty
    store there. Every process that may reach MLflow calls this once it has its settings
    (pipelines/definitions.py, serving/service.py); the recorder calls it before each
    fluent call too."""
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)


def _seconds(millis: int | None) -> float | None:
    return None if millis is None else millis / 1000


def _version(mv: ModelVersion, aliases: tuple[str, ...] | None = None) -> Version:
    return Version(mv.name, str(mv.version), mv.run_id, tuple(sorted(mv.aliases or ())) if aliases is None else aliases,
                   dict(mv.tags or {}), mv.creation_timestamp / 1000 if mv.creation_timestamp else None)


@contextmanager
def _answering() -> Iterator[None]:
    """MLflow's refusals (no such version or run, a bad argument) as TrackingError, with
    the first line of MLflow's message."""
    try:
        yield
    except MlflowException as exc:
        raise TrackingError(_line(exc.message)) from exc


def _line(error: BaseException | str) -> str:
    return next((line.strip() for line in str(error).splitlines() if line.strip()), "no message")


def _redact(uri: str) -> str:
    return re.sub(r"//([^:/@]+):[^@]*@", r"//\1:***@", uri)
