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
"""

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import optuna

from training.dataset import Dataset
from training.metrics import auc
from training.splits import Fold

optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass(frozen=True)
class Trial:
    number: int
    params: dict
    value: float  # mean inner walk-forward AUC
    fold_values: tuple[float, ...]


def tune(make: Callable[..., object], space: Callable[[optuna.Trial], dict], data: Dataset, folds: list[Fold],
         n_trials: int, seed: int, on_trial: Callable[[Trial], None] | None = None,
         timeout: float | None = None) -> tuple[dict, list[Trial]]:
    """Best params of `make(**params)` by mean AUC over `folds` of `data` (positions into it),
    from at most `n_trials` trials started within `timeout` seconds (None or 0: no time bound);
    the trials list holds those run."""
    trials: list[Trial] = []

    def objective(trial: optuna.Trial) -> float:
        params = space(trial)
        values = []
        for fold in folds:
            train, test = data.take(fold.train), data.take(fold.test)
            layer = make(**params).fit(train.X, train.windows, train.y)
            values.append(auc(test.y, layer.predict(test.X, test.windows)))
        value = float(np.nanmean(values))
        done = Trial(trial.number, params, value, tuple(values))
        trials.append(done)
        if on_trial:
            on_trial(done)
        return value

    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    study.optimize(objective, n_trials=n_trials, timeout=timeout or None)
    if not any(np.isfinite(t.value) for t in trials):
        return {}, trials  # no trial could be scored (a one-class inner fold): the defaults stand
    return study.best_params, trials
