"""Bounded, seeded optuna studies for the tunable layers.

A study tunes on the samples before the first walk-forward test block only, with purged
walk-forward folds of its own: the blocks that later evaluate the model never inform its
hyper-parameters (no selection bias in `wf_auc`).

A study stops at `n_trials` or, with a `timeout`, when that many seconds have passed,
whichever comes first: optuna checks the clock before each trial (the trial running when
the time is up finishes; a bound shorter than the first trial's start runs none, and the
defaults stand).
When the trial budget binds first the study is exactly reproducible (same seed, same data:
same trials, same best params); when the time bound binds, how many trials ran depends on
the machine and its load, so callers record the number run.

Distributed (`storage`, an optuna RDB URL: TX_OPTUNA_STORAGE): the study lives in that
database under a name fixed by the layer, the data, the folds, the seed and the settings
that change a trial's value (`study_name`), so every process started on the same training
joins the same study and its trials run in parallel. The budget is the study's, not a
process's: trial numbers are handed out by the database, and a trial numbered `n_trials` or
more is pruned before it samples anything (so exactly `n_trials` trials are scored, however
many processes join, unless one crashes mid-trial: its trial fails after `GRACE_S` without a
heartbeat, and is not re-run). Each process then waits for the trials the others are running
and reads the best params from the study: every process returns the same params. A process
alone on a fresh study samples with the seed's own stream, so it finds the same trials as
the in-memory study; a process whose first trial is numbered k > 0 (it joined) samples with
the stream of `seed + k`, so two processes never propose the same random start-up points.
"""

import hashlib
import os
import socket
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna
import pandas as pd
from optuna.trial import TrialState

from training.dataset import Dataset
from training.metrics import auc
from training.splits import Fold

optuna.logging.set_verbosity(optuna.logging.WARNING)

HEARTBEAT_S = 10  # a process's running trial records a heartbeat this often in a shared study ...
GRACE_S = 60  # ... and one without a heartbeat for this long is failed (its process died)
WAIT_S = 0.5  # how often a process that ran out of trials looks whether the others' have finished


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict
    value: float  # mean inner walk-forward AUC
    fold_values: tuple[float, ...]


def study_name(layer: str, data: Dataset, folds: list[Fold], seed: int, config: str = "") -> str:
    """The name of a layer's shared study: the same for every process tuning `layer` on the
    same samples, folds and seed with the same `config` (the settings that change what a trial
    scores, in words); the time span in the name is for people reading the storage."""
    digest = hashlib.sha256()
    for part in (layer, str(seed), config, str(data.X.shape), ",".join(map(str, data.X.columns))):
        digest.update(part.encode() + b"\0")
    for array in (data.times.as_unit("ns").asi8, data.label_end.as_unit("ns").asi8, data.y,
                  pd.util.hash_pandas_object(data.X, index=False).to_numpy(), data.windows):
        digest.update(np.ascontiguousarray(array).tobytes())
    digest.update("|".join(f"{s}:{t}" for s, t in zip(data.symbols, data.timeframes, strict=True)).encode())
    for fold in folds:
        digest.update(np.asarray(fold.train, np.int64).tobytes() + b"/" + np.asarray(fold.test, np.int64).tobytes() + b";")
    span = f"{data.times.min():%Y%m%d}-{data.times.max():%Y%m%d}" if len(data) else "empty"
    return f"tx-{layer}-{span}-seed{seed}-{digest.hexdigest()[:16]}"


def tune(make: Callable[..., object], space: Callable[[optuna.Trial], dict], data: Dataset, folds: list[Fold],
         n_trials: int, seed: int, on_trial: Callable[[Trial], None] | None = None,
         timeout: float | None = None, storage: str | None = None, name: str | None = None) -> tuple[dict, list[Trial]]:
    """Best params of `make(**params)` by mean AUC over `folds` of `data` (positions into it),
    from at most `n_trials` trials started within `timeout` seconds (None or 0: no time bound);
    the trials list holds those run. With `storage` the study named `name` (default: from
    the data, folds and seed) lives there and may be shared by other processes: the trials
    list then holds every scored trial of the study, whichever process ran it."""
    trials: list[Trial] = []
    first_number: list[int] = []  # the number of this process's first trial, once it has one

    def objective(trial: optuna.Trial) -> float:
        if storage is not None:
            if trial.number >= n_trials:  # the study's budget is spent (other processes took the rest)
                trial.study.stop()
                raise optuna.TrialPruned(f"trial {trial.number}: the study's {n_trials} trials are taken")
            if not first_number:
                first_number.append(trial.number)
                if trial.number > 0:  # joined a study others run: a sampling stream of its own (module docstring)
                    trial.study.sampler = optuna.samplers.TPESampler(seed=(seed + trial.number) % 2**32)
        params = space(trial)
        values = []
        for fold in folds:
            train, test = data.take(fold.train), data.take(fold.test)
            layer = make(**params).fit(train.X, train.windows, train.y)
            values.append(auc(test.y, layer.predict(test.X, test.windows)))
        value = float(np.nanmean(values))
        done = Trial(trial.number, params, value, tuple(values))
        trials.append(done)
        if storage is not None:  # read back by the other processes (a NaN value fails the trial in optuna)
            trial.set_user_attr("value", value)
            trial.set_user_attr("fold_values", list(values))
            trial.set_user_attr("pid", os.getpid())
            trial.set_user_attr("host", socket.gethostname())
        if on_trial:
            on_trial(done)
        return value

    sampler = optuna.samplers.TPESampler(seed=seed)
    if storage is None:
        study = optuna.create_study(direction="maximize", sampler=sampler)
        study.optimize(objective, n_trials=n_trials, timeout=timeout or None)
        if not any(np.isfinite(t.value) for t in trials):
            return {}, trials  # no trial could be scored (a one-class inner fold): the defaults stand
        return study.best_params, trials

    with warnings.catch_warnings():  # the heartbeat is an experimental optuna feature: it works, it warns
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
        rdb = optuna.storages.RDBStorage(storage, heartbeat_interval=HEARTBEAT_S, grace_period=GRACE_S)
        try:
            study = optuna.create_study(storage=rdb, study_name=name or study_name("study", data, folds, seed), sampler=sampler,
                                        direction="maximize", load_if_exists=True)
            if len(study.get_trials(deepcopy=False)) < n_trials:  # else: the study's trials were all handed out before
                study.optimize(objective, n_trials=n_trials, timeout=timeout or None,
                               callbacks=[optuna.study.MaxTrialsCallback(n_trials, states=None)])
            while study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):  # the others' trials, still running
                optuna.storages.fail_stale_trials(study)  # those of a process that died stop counting after GRACE_S
                time.sleep(WAIT_S)
            scored = [t for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE, TrialState.FAIL))
                      if "fold_values" in t.user_attrs]
            shared = [Trial(t.number, t.params, float(t.user_attrs["value"]), tuple(map(float, t.user_attrs["fold_values"])))
                      for t in sorted(scored, key=lambda t: t.number)]
            if not any(t.state == TrialState.COMPLETE for t in scored):
                return {}, shared
            return study.best_params, shared
        finally:
            rdb.remove_session()
            rdb.engine.dispose()
