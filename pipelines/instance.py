"""The Dagster instance: DAGSTER_HOME/dagster.yaml rendered from the root dagster.yaml."""

import os
from pathlib import Path

import yaml
from dagster import DagsterInstance

from store.db import parse_url
from tx.settings import ROOT, Settings

MARKER = "# Written by tx from the repository's dagster.yaml; edits here are overwritten.\n"
PASSWORD_ENV = "TX_DAGSTER_PG_PASSWORD"


def instance_config(settings: Settings) -> dict:
    config = yaml.safe_load((ROOT / "dagster.yaml").read_text()) or {}
    coordinator = config.get("run_coordinator") or {}
    if coordinator.get("class") == "QueuedRunCoordinator":  # the run queue: TX_MAX_CONCURRENT_RUNS at once
        coordinator.setdefault("config", {})["max_concurrent_runs"] = settings.max_concurrent_runs
    if settings.dagster_storage_url:
        url = parse_url(settings.dagster_storage_url)
        db = {
            "username": url.username or "postgres",
            "hostname": url.host or "127.0.0.1",
            "port": url.port or 5432,
            "db_name": url.database,
            # SQLAlchemy 2.1 + psycopg 3 breaks dagster-postgres' NOTIFY ("syntax error at $1").
            "scheme": "postgresql+psycopg2",
        }
        if url.password:
            db["password"] = {"env": PASSWORD_ENV}  # secrets stay in the environment
        if url.query:
            db["params"] = dict(url.query)
        config["storage"] = {"postgres": {"postgres_db": db}}
    return config


def child_env(settings: Settings) -> dict[str, str]:
    """Environment variables a Dagster process needs beside DAGSTER_HOME: MLFLOW_TRACKING_URI
    too, so that whatever reaches MLflow in the webserver, the daemon, the code server or a
    run worker (all of them run in DAGSTER_HOME) uses the configured store rather than
    MLflow's default, `./mlflow.db` of that folder."""
    env = {"DAGSTER_HOME": str(settings.dagster_home_dir), "MLFLOW_TRACKING_URI": settings.tracking_uri}
    if settings.dagster_storage_url:
        password = parse_url(settings.dagster_storage_url).password
        if password:
            env[PASSWORD_ENV] = str(password)
    return env


def prepare(settings: Settings) -> Path:
    """Write DAGSTER_HOME/dagster.yaml and point this process at it; returns DAGSTER_HOME."""
    home = settings.dagster_home_dir
    home.mkdir(parents=True, exist_ok=True)
    target = home / "dagster.yaml"
    if not target.exists() or target.read_text().startswith(MARKER):
        text = MARKER + yaml.safe_dump(instance_config(settings), sort_keys=False)
        if not target.exists() or target.read_text() != text:
            target.write_text(text)
    os.environ.update(child_env(settings))
    return home


def instance(settings: Settings) -> DagsterInstance:
    prepare(settings)
    return DagsterInstance.get()
