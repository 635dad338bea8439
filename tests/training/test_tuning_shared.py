"""Distributed tuning (TX_OPTUNA_STORAGE): a study in a PostgreSQL database of its own per
test, shared by processes started on the same training; one process alone finds what the
in-memory study finds."""

import json
import os
import subprocess
import sys
import time
from dataclasses import asdict, replace
from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from cli.stores import setup_optuna
from training.pipeline import fit_series
from training.tuning import study_name, tune
from tx.errors import ConfigError
from tx.settings import ROOT, load_settings

from tests.training.test_tuning import QUICK, Slow, planted, small_data, space


@pytest.fixture
def storage(pg_url, monkeypatch) -> str:
    """A fresh PostgreSQL database for the studies, made the way `tx migrate` makes it (dropped afterwards)."""
    monkeypatch.setenv("TX_OPTUNA_STORAGE", pg_url)
    settings = load_settings()
    assert settings.optuna_storage == pg_url
    assert setup_optuna(settings).name == "optuna"
    return pg_url


def shared_trials(storage: str, name: str) -> list[optuna.trial.FrozenTrial]:
    return optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)


def test_one_process_on_a_storage_finds_what_the_in_memory_study_finds(storage):
    data, folds = small_data()
    n = 14  # past TPE's 10 random start-up trials: the model-based proposals are compared too
    alone = tune(Slow, space, data, folds, n_trials=n, seed=3)
    stored = tune(Slow, space, data, folds, n_trials=n, seed=3, storage=storage, name="alone")
    assert stored == alone and len(stored[1]) == n
    trials = shared_trials(storage, "alone")
    assert [t.state for t in trials] == [TrialState.COMPLETE] * n and {t.user_attrs["pid"] for t in trials} == {os.getpid()}
    # a process started later on the same training joins the finished study: no trial more, the same answer
    assert tune(Slow, space, data, folds, n_trials=n, seed=3, storage=storage, name="alone") == alone
    assert len(shared_trials(storage, "alone")) == n


class Meeting(Slow):
    """Slow, whose first fit in a process waits (at most 120 s) until every process of the
    test has started a trial: each of them then surely runs one, however loaded the machine."""

    folder: Path | None = None
    expected = 2

    def fit(self, X, windows, y):
        mine = self.folder / str(os.getpid())
        if not mine.exists():
            mine.touch()
            deadline = time.monotonic() + 120
            while len(list(self.folder.iterdir())) < self.expected and time.monotonic() < deadline:
                time.sleep(0.05)
        time.sleep(0.05)
        return self


def work(storage: str, name: str, folder: str, out: str) -> None:
    """One worker process of the shared-study test (started by it with `python -c`)."""
    Meeting.folder = Path(folder)
    data, folds = small_data()
    best, trials = tune(Meeting, space, data, folds, n_trials=8, seed=3, storage=storage, name=name)
    Path(out).write_text(json.dumps({"pid": os.getpid(), "best": best, "trials": [asdict(t) for t in trials]}))


def test_two_processes_share_one_studys_trial_budget(storage, tmp_path):
    (tmp_path / "met").mkdir()
    procs = [subprocess.Popen([sys.executable, "-c", "import sys; from tests.training.test_tuning_shared import work; work(*sys.argv[1:])",
                               storage, "shared", str(tmp_path / "met"), str(tmp_path / f"out{i}.json")], cwd=ROOT)
             for i in range(2)]
    assert [p.wait(timeout=300) for p in procs] == [0, 0]
    outs = [json.loads((tmp_path / f"out{i}.json").read_text()) for i in range(2)]
    trials = shared_trials(storage, "shared")
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    assert sorted(t.number for t in complete) == list(range(8))  # the study's budget, not each process's
    assert all(t.state == TrialState.PRUNED and not t.params for t in trials if t.state != TrialState.COMPLETE)  # only overflow
    assert {t.user_attrs["pid"] for t in complete} == {o["pid"] for o in outs}  # both ran trials
    assert len({t.params["a"] for t in complete}) == 8  # the joiner samples a stream of its own: no trial proposed twice
    assert outs[0]["best"] == outs[1]["best"] == optuna.load_study(study_name="shared", storage=storage).best_params
    assert outs[0]["trials"] == outs[1]["trials"] and len(outs[0]["trials"]) == 8


def test_study_names_follow_the_layer_data_folds_seed_and_config():
    data, folds = small_data()
    name = study_name("multitimeframe", data, folds, 0)
    assert name == study_name("multitimeframe", data, folds, 0) and name.startswith("tx-multitimeframe-20200101-")
    others = {study_name("deep", data, folds, 0), study_name("multitimeframe", data, folds, 1),
              study_name("multitimeframe", data, folds[:1], 0), study_name("multitimeframe", data, folds, 0, "epochs=2"),
              study_name("multitimeframe", data.take(list(range(len(data) - 1))), folds, 0)}
    assert name not in others and len(others) == 5


def test_training_tunes_in_the_configured_storage(storage):
    series = planted(900)
    config = replace(QUICK, n_splits=2, tune_trials=3)
    memory, _ = fit_series(series, base_rates_table=None, label_config={"horizon": 2}, config=config, final=False)
    shared, _ = fit_series(series, base_rates_table=None, label_config={"horizon": 2}, config=replace(config, tune_storage=storage),
                           final=False)
    assert shared.best_params == memory.best_params and shared.trials == memory.trials and len(shared.trials["multitimeframe"]) == 3
    names = [s.study_name for s in optuna.get_all_study_summaries(storage)]
    assert len(names) == 1 and names[0].startswith("tx-multitimeframe-") and "-seed0-" in names[0]


def test_a_wrong_storage_is_named(monkeypatch):
    monkeypatch.setenv("TX_OPTUNA_STORAGE", "::not a url::")
    with pytest.raises(ConfigError, match="^TX_OPTUNA_STORAGE: not a database URL"):
        load_settings()
