"""Every process uses the configured MLflow store, never MLflow's default (`./mlflow.db` of its
working folder): Dagster's processes get it in their environment, and a run's steps, in
processes of their own in DAGSTER_HOME, point MLflow at it even when nothing else did."""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml

from pipelines.instance import child_env, instance_config
from store.candles import upsert_candles
from store.db import make_engine, upgrade
from tests.conftest import mlflow_defaults
from training.recorder import Recorder
from training.report import BACKTEST_EXPERIMENT
from tx.settings import ROOT, load_settings

# Run in DAGSTER_HOME as a run worker is: each job through the multiprocess executor, so each
# step runs in a fresh process of its own, as under `dagster dev`.
RUNS = '''
import json, sys
import dagster as dg


def online_job():
    from pipelines.definitions import defs
    return defs.resolve_job_def("online_job")


def backtest_job():
    from pipelines.definitions import defs
    return defs.resolve_job_def("backtest_job")


if __name__ == "__main__":
    instance = dg.DagsterInstance.get()
    found = {}
    for job, selection in ((online_job, None), (backtest_job, [dg.AssetKey("pattern_backtest")])):
        with dg.execute_job(dg.reconstructable(job), instance, asset_selection=selection) as result:
            assert result.success, [e.message for e in result.all_events if e.is_failure]
            for event in result.all_events:
                if event.is_step_materialization:
                    meta = event.materialization.metadata
                    found[event.materialization.asset_key.to_user_string()] = {k: str(getattr(v, "value", v)) for k, v in meta.items()}
    print(json.dumps(found))
'''


def test_dagster_processes_get_the_configured_tracking_uri():
    env = child_env(load_settings())
    assert env["MLFLOW_TRACKING_URI"] == os.environ["MLFLOW_TRACKING_URI"]


@pytest.mark.heavy
def test_a_dagster_run_in_dagster_home_leaves_no_mlflow_store_there(tmp_path, trained, monkeypatch):
    """A run worker's situation: working folder DAGSTER_HOME, the store named only in TX's
    settings (TX_MLFLOW_TRACKING_URI here; `.env` or TX_POSTGRES_URL in a deployment), not in
    MLflow's MLFLOW_TRACKING_URI. The online step loads the newest version and the pattern
    backtest logs a run, each step in a process of its own: both on the configured store, and
    no store appears in DAGSTER_HOME."""
    shutil.copy(trained["db"], tmp_path / "mlflow.db")  # a copy of the session's registry: a version to load
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    home = tmp_path / "tx"
    dagster_home = home / "dagster"
    dagster_home.mkdir(parents=True)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("TX_MLFLOW_TRACKING_URI", uri)
    settings = load_settings()
    assert settings.tracking_uri == uri
    (dagster_home / "dagster.yaml").write_text(yaml.safe_dump(instance_config(settings)))
    upgrade(settings.app_database_url)
    upsert_candles(make_engine(settings.app_database_url), "SYNA", "1d", trained["frames"]["SYNA"], "synthetic")
    (tmp_path / "runs.py").write_text(RUNS)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DAGSTER_"))}
    env |= {"PYTHONPATH": str(ROOT), "DAGSTER_HOME": str(dagster_home)}

    done = subprocess.run([sys.executable, str(tmp_path / "runs.py")], cwd=dagster_home, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    found = json.loads(done.stdout.strip().splitlines()[-1])

    assert "nothing to update" in found["online_model"]["skipped"]  # the newest version was loaded: its label spec made the labels
    assert "SYNA:1d" in found["pattern_backtest"]["summary"]
    recorder = Recorder(uri)
    runs = recorder.client.search_runs([recorder.experiment(BACKTEST_EXPERIMENT).experiment_id])
    assert [r.info.run_id for r in runs] == [found["pattern_backtest"]["mlflow_run"].rsplit("/", 1)[-1]]
    assert mlflow_defaults(home) == set()
    assert mlflow_defaults(tmp_path) == {tmp_path / "mlflow.db"}  # the configured store alone
