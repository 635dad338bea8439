"""The promotion gate: the policy alone, then on real MLflow registries (SQLite and PostgreSQL)."""

import mlflow
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from training.promotion import WINDOW_TAG, decide, gate, no_champion_reason, recorded
from training.recorder import CHALLENGER, CHAMPION, Recorder, client, ensure_experiment


@pytest.mark.parametrize(
    ("auc", "champion", "force", "promoted", "why"),
    [
        (0.65, None, False, True, "no champion yet"),
        (0.60, None, False, False, "does not exceed the threshold 0.6"),
        (None, None, False, False, "no wf_auc metric"),
        (0.64, 0.66, False, False, "worse than the champion's 0.6600"),
        (0.66, 0.66, False, True, "not worse than the champion's 0.6600"),
        (0.50, 0.70, True, True, "forced by alice"),
    ],
)
def test_policy(auc, champion, force, promoted, why):
    ok, reason = decide(auc, 0.6, champion, force=force, actor="alice")
    assert ok is promoted and why in reason


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.heavy)])
def registry(request, tmp_path):
    if request.param == "sqlite":
        uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    else:
        from store.db import ensure_database, with_driver

        url = request.getfixturevalue("pg_url")
        ensure_database(url)
        uri = with_driver(url, "psycopg").render_as_string(hide_password=False)
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    c = client(uri)
    exp = ensure_experiment(c, "tx-gate-test", str(tmp_path / "artifacts"))
    X = np.random.default_rng(0).normal(size=(50, 2))
    model = LogisticRegression().fit(X, (X[:, 0] > 0).astype(int))

    def register(auc: float, window: str = "2010-01-01/2018-12-31") -> str:
        with mlflow.start_run(experiment_id=exp.experiment_id):
            mlflow.log_metric("wf_auc", auc)
            mlflow.set_tag(WINDOW_TAG, window)
            info = mlflow.sklearn.log_model(model, name="model", registered_model_name="tx-gate-test")
        return str(info.registered_model_version)

    return c, register, Recorder(uri)


@pytest.mark.heavy
def test_gate_moves_aliases_and_records_every_decision(registry):
    c, register, recorder = registry
    low, good, worse = register(0.55), register(0.66), register(0.62)

    first = gate(recorder, "tx-gate-test", low)
    assert not first.promoted and "does not exceed" in first.reason
    assert c.get_model_version_by_alias("tx-gate-test", CHALLENGER).version in (low, int(low))

    second = gate(recorder, "tx-gate-test", good)
    assert second.promoted and str(c.get_model_version_by_alias("tx-gate-test", CHAMPION).version) == good

    third = gate(recorder, "tx-gate-test", worse)
    assert not third.promoted and third.champion_version == good and third.champion_auc == 0.66
    assert str(c.get_model_version_by_alias("tx-gate-test", CHAMPION).version) == good  # the champion stays

    tags = c.get_model_version("tx-gate-test", worse).tags
    assert tags["tx.gate.promoted"] == "False" and "worse than the champion" in tags["tx.gate.reason"]
    assert tags["tx.gate.wf_auc"] == "0.62" and tags["tx.gate.threshold"] == "0.6"

    forced = gate(recorder, "tx-gate-test", low, force=True, actor="admin-key-3")
    assert forced.promoted and forced.forced and "forced by admin-key-3" in forced.reason
    assert c.get_model_version("tx-gate-test", low).tags["tx.gate.forced"] == "True"


def test_a_champion_from_another_window_must_be_rescored(registry):
    c, register, recorder = registry
    old = register(0.70, window="2010-01-01/2016-12-31")
    assert gate(recorder, "tx-gate-test", old).promoted
    new = register(0.65, window="2010-01-01/2018-12-31")
    blocked = gate(recorder, "tx-gate-test", new)
    assert not blocked.promoted and "evaluated on another window" in blocked.reason
    rescored = gate(recorder, "tx-gate-test", new, champion_auc_on_window=0.61)  # the champion, scored on the new window
    assert rescored.promoted and rescored.champion_auc == 0.61


@pytest.mark.heavy
def test_the_recorded_decision_reads_back_what_the_gate_wrote(registry):
    c, register, recorder = registry
    never = register(0.70)
    assert recorded(recorder.version("tx-gate-test", never)) is None  # never through the gate
    first = gate(recorder, "tx-gate-test", register(0.66))
    blocked = gate(recorder, "tx-gate-test", register(0.62))
    forced = gate(recorder, "tx-gate-test", never, force=True, actor="admin-key-3")
    for decision in (first, blocked, forced):
        version = recorder.version("tx-gate-test", decision.version)
        assert recorded(version) == decision
        raw = c.get_model_version("tx-gate-test", decision.version).tags
        assert decision.record() == {k.removeprefix("tx.gate."): v for k, v in raw.items() if k.startswith("tx.gate.")}
    assert recorded(recorder.version("tx-gate-test", forced.version)).forced
    assert recorded(recorder.champion("tx-gate-test")) == forced


def test_no_champion_reason_says_what_the_gate_decided(registry):
    """What the service answers while there is no champion: nothing registered, a version
    awaiting the gate, or the gate's recorded reason for refusing the newest one."""
    from serving.champion import Champion, NoChampion

    _, register, recorder = registry
    assert "none is registered" in no_champion_reason(recorder, "tx-gate-test")
    low = register(0.55)
    assert no_champion_reason(recorder, "tx-gate-test") == f"no version of tx-gate-test is champion yet: v{low} awaits the gate"
    gate(recorder, "tx-gate-test", low)
    why = f"no version of tx-gate-test is champion yet: the gate did not promote v{low}: wf_auc 0.5500 does not exceed the threshold 0.6"
    assert no_champion_reason(recorder, "tx-gate-test") == why

    served = Champion(recorder.tracking_uri, resolve=lambda r: r.champion("tx-gate-test"),
                      explain=lambda r: no_champion_reason(r, "tx-gate-test"))
    assert not served.refresh() and served.why_not_served == why
    with pytest.raises(NoChampion) as refused:
        served.current()
    assert str(refused.value) == why and refused.value.public  # safe for clients: the 503's message
