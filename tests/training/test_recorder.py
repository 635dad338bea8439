"""The recorder: MLflow tracking and registry on the SQLite store and on a PostgreSQL backend store."""

import time

import mlflow
import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from training.recorder import CHAMPION, EXPERIMENT_KIND_TAG, MODEL_TRAINING, Recorder, client, ensure_experiment


@pytest.fixture(params=["sqlite", "postgresql"])
def tracking_uri(request, tmp_path):
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'mlflow.db'}"
    from store.db import ensure_database, with_driver

    url = request.getfixturevalue("pg_url")
    ensure_database(url)
    return with_driver(url, "psycopg").render_as_string(hide_password=False)


def test_run_logged_registered_aliased_and_loaded_back(tracking_uri, tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    c = client(tracking_uri)
    exp = ensure_experiment(c, "tx-test", str(tmp_path / "artifacts"))
    assert exp.artifact_location.startswith(str(tmp_path / "artifacts"))
    assert ensure_experiment(c, "tx-test", str(tmp_path / "elsewhere")).experiment_id == exp.experiment_id

    rng = np.random.default_rng(0)
    X = rng.normal(size=(200, 3))
    y = (X[:, 0] + 0.1 * rng.normal(size=200) > 0).astype(int)
    model = LogisticRegression().fit(X, y)
    with mlflow.start_run(experiment_id=exp.experiment_id) as run:
        mlflow.log_param("C", 1.0)
        mlflow.log_metric("wf_auc", 0.75)
        info = mlflow.sklearn.log_model(
            model, name="model", input_example=X[:2], registered_model_name="tx-test-model",
            pyfunc_predict_fn="predict_proba",
        )
    version = str(info.registered_model_version)
    c.set_registered_model_alias("tx-test-model", CHAMPION, version)

    loaded = mlflow.pyfunc.load_model("models:/tx-test-model@champion")
    proba = np.asarray(loaded.predict(X[:5]))
    np.testing.assert_allclose(proba, model.predict_proba(X[:5]))
    assert c.get_run(run.info.run_id).data.metrics["wf_auc"] == 0.75
    assert [(v.name, v.version, v.aliases) for v in Recorder(tracking_uri).versions()] == [("tx-test-model", version, (CHAMPION,))]
    assert (tmp_path / "artifacts").exists()  # artifacts where configured, not ./mlruns


def test_a_new_store_puts_even_the_default_experiment_under_the_artifact_root(tracking_uri, tmp_path):
    Recorder(tracking_uri, str(tmp_path / "artifacts")).init_store()
    Recorder(tracking_uri, str(tmp_path / "artifacts")).init_store()  # idempotent on an existing store
    assert client(tracking_uri).get_experiment("0").artifact_location == str(tmp_path / "artifacts" / "0")


def test_experiments_are_marked_for_the_model_training_view(tracking_uri, tmp_path):
    """MLflow 3's UI opens an experiment in its GenAI view unless its kind says model training."""
    recorder = Recorder(tracking_uri, str(tmp_path / "artifacts"))
    created = recorder.experiment("tx-kind")
    assert created.tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING == "custom_model_development"
    assert created.artifact_location.startswith(str(tmp_path / "artifacts"))

    c = client(tracking_uri)
    older = c.create_experiment("tx-older", artifact_location=str(tmp_path / "artifacts" / "older"))  # made before the recorder marked them
    assert EXPERIMENT_KIND_TAG not in c.get_experiment(older).tags
    assert recorder.experiment("tx-older").tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    assert c.get_experiment(older).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING

    with recorder.run("tx-run-kind", "a run", {"tx.test": "yes"}) as run:
        run.log_params({"p": 1})
        run.log_metrics({"m": 0.5}, step=2)
        with run.child("a child", {"tx.test": "child"}) as child:
            child.log_metrics({"n": 1.0})
        with run.artifacts("tables") as folder:
            (folder / "t.csv").write_text("a\n1\n")
    assert c.get_experiment(run.experiment_id).tags[EXPERIMENT_KIND_TAG] == MODEL_TRAINING
    logged, nested = recorder.read_run(run.id), recorder.read_run(child.id)
    assert logged.params == {"p": "1"} and logged.metrics == {"m": 0.5} and logged.tags["tx.test"] == "yes"
    assert nested.tags["mlflow.parentRunId"] == run.id and nested.experiment_id == run.experiment_id
    assert [a.path for a in c.list_artifacts(run.id, "tables")] == ["tables/t.csv"]


class Constant(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return np.full(len(model_input), 0.5)


def test_loading_a_version_reads_only_the_recorders_store(tracking_uri, tmp_path, monkeypatch):
    """Loading goes to the recorder's store, never to MLflow's default (`./mlflow.db` of the
    current folder) or to whatever tracking URI the process set before."""
    recorder = Recorder(tracking_uri, str(tmp_path / "artifacts"))
    with recorder.run("tx-test", "constant", {}) as run:
        version = run.log_model(Constant(), input_example=pd.DataFrame({"x": [1.0, 2.0]}), output=np.array([0.5, 0.5]),
                                params={}, requirements=[], registered_name="tx-test-model")
    elsewhere, folder = tmp_path / "elsewhere.db", tmp_path / "cwd"
    folder.mkdir()
    mlflow.set_tracking_uri(f"sqlite:///{elsewhere}")
    monkeypatch.chdir(folder)
    assert isinstance(recorder.load(version, "tx-test-model"), Constant)
    assert not elsewhere.exists() and not (folder / "mlflow.db").exists()


def test_a_run_spans_the_work_it_records_not_only_its_logging(tracking_uri, tmp_path):
    """A run opened after the work (a training logs when it is done) starts when the work
    began: MLflow shows the training's duration, not the seconds its logging took."""
    recorder = Recorder(tracking_uri, str(tmp_path / "artifacts"))
    began = time.time() - 90  # the work took 90 s before anything was logged
    with recorder.run("tx-timed", "timed", {"tx.test": "yes"}, started=began) as run:
        run.log_params({"p": 1})
        run.log_metrics({"m": 0.5})
        with run.child("a child", {}) as child:
            child.log_metrics({"n": 1.0})
    logged = recorder.read_run(run.id)
    assert logged.start_time == pytest.approx(began, abs=0.002)
    assert logged.end_time - logged.start_time >= 90
    assert logged.end_time == pytest.approx(time.time(), abs=60)
    # named and tagged as a run MLflow started itself: the name, the caller's tags, the user and source
    assert logged.tags["mlflow.runName"] == "timed" and logged.tags["tx.test"] == "yes" and "mlflow.user" in logged.tags
    assert logged.params == {"p": "1"} and logged.metrics == {"m": 0.5}
    assert recorder.client.get_run(run.id).info.status == "FINISHED"
    assert recorder.read_run(child.id).tags["mlflow.parentRunId"] == run.id

    before = time.time()
    with recorder.run("tx-timed", "now", {}) as now:
        pass
    assert before - 0.002 <= recorder.read_run(now.id).start_time <= time.time()  # without `started`: now
