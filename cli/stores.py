"""Set up the three stores (app database, MLflow, Dagster instance) and, when
TX_OPTUNA_STORAGE is set, the tuning studies' database: create, migrate, check.

Every step is idempotent, so `make demo`, `make run` and `make test` can all start
with it. A store that cannot be reached raises ConfigError naming the setting.
"""

from dataclasses import dataclass
from pathlib import Path

import httpx
from sqlalchemy.engine import make_url

from store.db import DatabaseError, check_server, current_revision, ensure_database, first_line, redact, upgrade
from training.recorder import Recorder, TrackingError
from tx.errors import ConfigError
from tx.settings import Settings


@dataclass(frozen=True)
class StoreStatus:
    name: str
    location: str
    detail: str


def _is_sql_uri(uri: str) -> bool:
    return uri.split(":", 1)[0].split("+", 1)[0] in ("sqlite", "postgresql")


def setup_app_database(settings: Settings) -> StoreStatus:
    url = settings.app_database_url
    try:
        upgrade(url)
    except DatabaseError as exc:
        raise ConfigError(settings.app_database_setting, str(exc)) from None
    return StoreStatus("app database", redact(url), f"schema at revision {current_revision(url)}")


def setup_mlflow(settings: Settings, serving: bool = False) -> StoreStatus:
    """MLflow ready: its database created and migrated, or its tracking server answering.
    `serving`: the database behind `tx mlflow-server` (`mlflow_store_uri`), whatever
    MLFLOW_TRACKING_URI says. Through a server, artifacts go to the server (proxied): no
    local artifact folder is made."""
    uri, setting = (settings.mlflow_store_uri, settings.mlflow_store_setting) if serving else (settings.tracking_uri, settings.tracking_setting)
    if _is_sql_uri(uri):
        try:
            if uri.startswith("sqlite"):
                Path(make_url(uri).database).parent.mkdir(parents=True, exist_ok=True)
            else:
                ensure_database(uri)
        except DatabaseError as exc:
            raise ConfigError(setting, str(exc)) from None
    local = "://" not in settings.mlflow_artifacts or settings.mlflow_artifacts.startswith("file://")
    if local and (serving or not settings.tracking_is_server):
        Path(settings.mlflow_artifacts.removeprefix("file://")).mkdir(parents=True, exist_ok=True)
    try:
        recorder = Recorder(uri, settings.mlflow_artifacts)
        if _is_sql_uri(uri):
            recorder.init_store()
        recorder.check()
    except TrackingError as exc:
        raise ConfigError(setting, str(exc)) from None
    shown = redact(uri) if _is_sql_uri(uri) else uri
    where = "artifacts proxied by the server" if not serving and settings.tracking_is_server else f"artifacts in {settings.mlflow_artifacts}"
    return StoreStatus("mlflow", shown, where)


def setup_dagster(settings: Settings) -> StoreStatus:
    from pipelines.instance import instance  # Dagster is only imported by the shell

    url = settings.dagster_storage_url
    if url:
        try:
            ensure_database(url)
        except DatabaseError as exc:
            raise ConfigError(settings.dagster_setting, str(exc)) from None
    try:
        dagster = instance(settings)
        dagster.upgrade()
    except Exception as exc:
        raise ConfigError(settings.dagster_setting, f"Dagster instance storage: {type(exc).__name__}: {first_line(exc)}") from None
    where = redact(url) if url else f"SQLite under {settings.dagster_home_dir}"
    return StoreStatus("dagster", where, f"DAGSTER_HOME={settings.dagster_home_dir}")


def setup_optuna(settings: Settings) -> StoreStatus:
    """The shared tuning studies' database (TX_OPTUNA_STORAGE): created on PostgreSQL when
    missing; optuna creates (or checks) its tables."""
    import optuna

    url = settings.optuna_storage
    try:
        ensure_database(url)
        optuna.storages.RDBStorage(url).engine.dispose()
    except DatabaseError as exc:
        raise ConfigError("TX_OPTUNA_STORAGE", str(exc)) from None
    except Exception as exc:  # optuna's own: a schema of another optuna version, a driver error
        raise ConfigError("TX_OPTUNA_STORAGE", f"optuna storage: {type(exc).__name__}: {first_line(exc)}") from None
    return StoreStatus("optuna", redact(url), "shared tuning studies")


def check_reachable(settings: Settings) -> None:
    """Every configured server answers, before any store is written to."""
    servers = [(settings.app_database_setting, settings.app_database_url), (settings.dagster_setting, settings.dagster_storage_url),
               ("TX_OPTUNA_STORAGE", settings.optuna_storage)]
    if _is_sql_uri(settings.tracking_uri):
        servers.append((settings.tracking_setting, settings.tracking_uri))
    for setting, url in servers:
        try:
            if url:
                check_server(url)
        except DatabaseError as exc:
            raise ConfigError(setting, str(exc)) from None
    if settings.tracking_is_server:
        health = settings.tracking_uri.rstrip("/") + "/health"
        try:
            httpx.get(health, timeout=5).raise_for_status()
        except httpx.HTTPError as exc:
            raise ConfigError(settings.tracking_setting, f"MLflow server at {settings.tracking_uri} does not answer ({exc})") from None


def setup_all(settings: Settings) -> list[StoreStatus]:
    check_reachable(settings)
    stores = [setup_app_database(settings), setup_mlflow(settings), setup_dagster(settings)]
    return stores + ([setup_optuna(settings)] if settings.optuna_storage else [])
