"""MLflow tracking and registry on the SQLite store and on a PostgreSQL backend store."""

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from training.recorder import CHAMPION, client, ensure_experiment, init_store, registered_versions


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
    assert [(v.name, v.version, v.aliases) for v in registered_versions(c)] == [("tx-test-model", version, (CHAMPION,))]
    assert (tmp_path / "artifacts").exists()  # artifacts where configured, not ./mlruns


def test_a_new_store_puts_even_the_default_experiment_under_the_artifact_root(tracking_uri, tmp_path):
    init_store(tracking_uri, str(tmp_path / "artifacts"))
    init_store(tracking_uri, str(tmp_path / "artifacts"))  # idempotent on an existing store
    assert client(tracking_uri).get_experiment("0").artifact_location == str(tmp_path / "artifacts" / "0")
