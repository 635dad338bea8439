"""Train the fused predictor with purged walk-forward evaluation.

1. Tune the tunable layers (optuna) on the samples before the first test block only, within
   a trial budget and, optionally, a time bound per layer study; or take hyper-parameters
   another training chose (`Chosen`: the walk-forward backtest reuses the fused model's),
   provided that training tuned on samples whose labels were known before this one's first
   test block starts, embargo included.
2. For each purged walk-forward fold, fit every layer on the fold's past and predict its
   test block: out-of-fold (OOF) layer outputs.
3. The stacker of fold k is fitted on the OOF outputs of earlier folds whose labels were
   known before fold k starts, and predicts fold k: the fused model's OOF probabilities,
   honest at both levels. `wf_auc` is their AUC (fold 0 has no past OOF: not scored).
4. The final model: every layer refitted on all samples, the stacker on all OOF outputs.
"""

import time
from collections.abc import Callable
import json
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from training.dataset import Dataset
from training.layers import Layer
from training.layers.multitimeframe import MultiTimeframeLayer
from training.layers.pattern import PatternLayer
from training.layers.sentiment import SentimentLayer
from training.layers.stacker import Stacker
from training.metrics import auc, scores
from training.model import FusedModel
from training.splits import Fold, NotEnoughData, purged_walk_forward
from training.tuning import Trial, study_name, tune

LAYERS = ("pattern", "deep", "multitimeframe", "sentiment")
TUNABLE = ("multitimeframe", "deep")  # the layers with an optuna search space, in the order they are tuned
MIN_SAMPLES = 500
Progress = Callable[[str, int, int], None]  # (what, steps done, steps in all)


@dataclass(frozen=True)
class TrainConfig:
    n_splits: int = 5
    embargo_bars: int = 10  # of the coarsest timeframe in the data
    min_train_fraction: float = 0.4
    train_window_bars: int = 0  # rolling training windows of this many bars of the coarsest timeframe (0: expanding)
    tune_trials: int = 6  # multi-timeframe layer (0: defaults); TX_TRAIN_TUNE_TRIALS
    deep_trials: int = 0  # deep layer (each trial trains two nets per inner fold); TX_TRAIN_DEEP_TRIALS
    tune_seconds: float = 0.0  # time bound of each layer's study, on top of its trials (0: none; machine-dependent when it binds)
    tune_storage: str | None = None  # TX_OPTUNA_STORAGE: an optuna RDB URL; processes tuning the same training share its studies
    inner_splits: int = 3
    deep_epochs: int = 3
    deep_hidden: int = 32
    deep_lr: float = 2e-3
    window: int = 32
    stacker_C: float = 1.0
    seed: int = 0
    accelerator: str = "auto"  # a GPU when present, else the CPU

    def study_key(self, name: str) -> str:
        """What besides the data, folds and seed changes the value of a trial of `name`'s study
        (part of its name in a shared optuna storage)."""
        if name == "deep":
            return f"epochs={self.deep_epochs},hidden={self.deep_hidden},lr={self.deep_lr}"
        return ""

    def make(self, name: str, **params) -> Layer:
        if name == "pattern":
            return PatternLayer()
        if name == "deep":
            from training.layers.deep import DeepLayer  # torch and lightning (about 6 s) load when a deep layer is made

            return DeepLayer(**({"hidden": self.deep_hidden, "lr": self.deep_lr} | params), epochs=self.deep_epochs,
                             seed=self.seed, accelerator=self.accelerator)
        if name == "multitimeframe":
            return MultiTimeframeLayer(**params, seed=self.seed)
        if name == "sentiment":
            return SentimentLayer()
        raise ValueError(f"unknown layer {name!r}")


@dataclass(frozen=True)
class Chosen:
    """Hyper-parameters of the tunable layers chosen by an earlier training's tuning."""

    params: dict[str, dict]  # per tunable layer ({}: the layer's defaults)
    tuned_before: pd.Timestamp  # every sample that tuning saw had its label known before this
    source: str  # where they come from, in words ("tx-fused v3 (champion), training run ...")
    version: str = ""  # the registered version they belong to
    run_id: str = ""  # the training run that recorded them


@dataclass
class Trained:
    model: FusedModel | None  # None when only evaluated (train(..., final=False))
    config: TrainConfig
    oof: pd.DataFrame  # one row per test sample: pos (into the dataset), time, symbol, timeframe, y, fold, p_<layer>, fused (NaN in fold 0)
    folds: list[dict]  # per fold: test span, sizes, AUC of the fused model and of each layer
    metrics: dict[str, float]
    best_params: dict[str, dict] = field(default_factory=dict)
    trials: dict[str, list[Trial]] = field(default_factory=dict)
    seconds: dict[str, float] = field(default_factory=dict)  # per layer (tuning, folds, final fit), and stacker
    notes: dict[str, str] = field(default_factory=dict)
    eval_window: str = ""
    importance: pd.Series | None = None  # multi-timeframe layer, out of sample on the last fold (AUC drop); None when only evaluated
    tuned_before: pd.Timestamp | None = None  # the tuning samples' labels were all known before this (first test block - embargo)
    params_from: str = ""  # where the tunable layers' hyper-parameters come from, in words


def _span(data: Dataset, bars: int) -> pd.Timedelta:
    """`bars` bars of the coarsest timeframe in the data, as time."""
    return bars * max(pd.Timedelta(tf) for tf in np.unique(data.timeframes))


def _search_space(name: str) -> Callable:
    if name == "deep":
        from training.layers.deep import DeepLayer  # torch and lightning load only when the deep layer is tuned

        return DeepLayer.search_space
    return MultiTimeframeLayer.search_space


def _trial_budget(config: TrainConfig, name: str) -> int:
    return {"multitimeframe": config.tune_trials, "deep": config.deep_trials}[name]


def _steps(config: TrainConfig, n_folds: int, final: bool = True, tuned: tuple[str, ...] = TUNABLE) -> int:
    return sum(_trial_budget(config, name) for name in tuned) + (n_folds + final) * len(LAYERS) + final


def train(data: Dataset, config: TrainConfig = TrainConfig(), *, base_rates_table: pd.DataFrame | None = None,
          label_config: dict | None = None, progress: Progress | None = None, final: bool = True,
          chosen: Chosen | None = None) -> Trained:
    """Tune, evaluate walk-forward and fit the final fused model on `data` (`final=False`:
    evaluate only, as the walk-forward analysis does; no model comes back). With `chosen`,
    its hyper-parameters replace tuning, unless its tuning saw a label known after this
    evaluation's first test block (minus the embargo) starts: then the layers are tuned here
    and `notes["tuning"]` says why."""
    if len(data) < MIN_SAMPLES:
        raise NotEnoughData(f"{len(data)} labeled samples: at least {MIN_SAMPLES} are needed for an honest walk-forward evaluation")
    if len(np.unique(data.y)) < 2:
        raise NotEnoughData("the labels hold a single class: nothing to learn")
    embargo = _span(data, config.embargo_bars)
    window = _span(data, config.train_window_bars) if config.train_window_bars > 0 else None
    folds = purged_walk_forward(data.times, data.label_end, config.n_splits, embargo, config.min_train_fraction, window)
    if len(folds) < 2:
        raise NotEnoughData(f"only {len(folds)} walk-forward fold(s) with training data: need 2+ (more data or fewer splits)")
    tuned_before = folds[0].test_start - embargo
    notes: dict[str, str] = {}
    if chosen is not None and chosen.tuned_before > tuned_before:
        notes["tuning"] = (f"{chosen.source}: tuned on labels known up to {chosen.tuned_before:%Y-%m-%d %H:%M}, after this "
                           f"evaluation's first test block (minus embargo) at {tuned_before:%Y-%m-%d %H:%M}: tuned here instead")
        chosen = None
    reused = tuple(name for name in TUNABLE if chosen is not None and name in chosen.params)
    total, done = _steps(config, len(folds), final, tuple(n for n in TUNABLE if n not in reused)), 0
    seconds: dict[str, float] = dict.fromkeys([*LAYERS, "stacker"], 0.0)

    def tick(what: str) -> None:
        nonlocal done
        done += 1
        if progress:
            progress(what, done, total)

    # 1. tuning, on the past of the first test block only (or hyper-parameters chosen before)
    best: dict[str, dict] = {name: {} for name in LAYERS}
    trials: dict[str, list[Trial]] = {}
    for name in reused:
        best[name] = dict(chosen.params[name])
    inner_idx = np.flatnonzero(data.label_end < tuned_before)
    for name in TUNABLE:
        n_trials, space = _trial_budget(config, name), _search_space(name)
        if n_trials <= 0 or name in reused:
            continue
        inner = data.take(inner_idx)
        try:
            inner_folds = purged_walk_forward(inner.times, inner.label_end, config.inner_splits, embargo, 0.4)
        except NotEnoughData as exc:
            notes[f"tuning_{name}"] = f"not tuned: {exc} before the first test block; defaults used"
            done += n_trials  # the steps its trials would have been
            continue
        started = time.perf_counter()
        study = study_name(name, inner, inner_folds, config.seed, config.study_key(name)) if config.tune_storage else None
        best[name], trials[name] = tune(lambda **p: config.make(name, **p), space, inner, inner_folds, n_trials, config.seed,
                                        on_trial=lambda t, name=name: tick(f"tune {name} trial {t.number}: AUC {t.value:.4f}"),
                                        timeout=config.tune_seconds or None, storage=config.tune_storage, name=study)
        seconds[name] += time.perf_counter() - started
        if len(trials[name]) < n_trials:  # the time bound came first: the trials not run count as done steps
            done += n_trials - len(trials[name])
            notes[f"tuning_{name}"] = (f"{len(trials[name])} of {n_trials} trials within the {config.tune_seconds:g} s bound"
                                       + ("" if trials[name] else ": defaults used"))
    params_from = _params_from(config, trials, chosen, reused)

    # 2. out-of-fold layer outputs
    oof = np.full((len(data), len(LAYERS)), np.nan)
    fold_of = np.full(len(data), -1)
    importance = None

    def fit_layer(name: str, train_part: Dataset) -> Layer:
        started = time.perf_counter()
        layer = config.make(name, **best[name]).fit(train_part.X, train_part.windows, train_part.y)
        seconds[name] += time.perf_counter() - started
        return layer

    for k, fold in enumerate(folds):
        train_part, test_part = data.take(fold.train), data.take(fold.test)
        fold_of[fold.test] = k
        for j, name in enumerate(LAYERS):
            layer = fit_layer(name, train_part)
            started = time.perf_counter()
            oof[fold.test, j] = layer.predict(test_part.X, test_part.windows)
            seconds[name] += time.perf_counter() - started
            if name == "multitimeframe" and k == len(folds) - 1 and final:  # logged with the model; an evaluation alone has no use for it
                importance = permutation_importance(layer, test_part, oof[fold.test, j], config.seed)
            tick(f"fold {k + 1}/{len(folds)} {name}")

    # 3. the stacker, walk-forward over the OOF outputs
    started = time.perf_counter()
    fused = np.full(len(data), np.nan)
    tested = fold_of >= 0
    for k, fold in enumerate(folds[1:], 1):
        past = np.flatnonzero(tested & (fold_of < k) & (data.label_end < fold.test_start) & (data.times < fold.test_start - embargo))
        if len(np.unique(data.y[past])) == 2:
            fused[fold.test] = Stacker(LAYERS, config.stacker_C).fit(oof[past], data.y[past]).predict(oof[fold.test])
    seconds["stacker"] += time.perf_counter() - started

    frame = _oof_frame(data, fold_of, oof, fused)
    fold_rows, metrics = _evaluate(frame, folds)
    window = _window(frame, label_config or {})
    if not final:
        return Trained(None, config, frame, fold_rows, metrics, best, trials, seconds, notes, window, importance, tuned_before, params_from)

    # 4. the final model
    layers = {}
    for name in LAYERS:
        layers[name] = fit_layer(name, data)
        notes[name] = layers[name].note
        tick(f"final fit {name}")
    started = time.perf_counter()
    stacker = Stacker(LAYERS, config.stacker_C).fit(oof[tested], data.y[tested])
    seconds["stacker"] += time.perf_counter() - started
    tick("final fit stacker")

    model = FusedModel(layers, stacker, base_rates_table if base_rates_table is not None else _no_rates(), config.window,
                       label_config or {}, _trained_through(data), knowledge_cutoff=data.label_end.max().isoformat())
    return Trained(model, config, frame, fold_rows, metrics, best, trials, seconds, notes, window, importance, tuned_before, params_from)


def _params_from(config: TrainConfig, trials: dict[str, list[Trial]], chosen: Chosen | None, reused: tuple[str, ...]) -> str:
    """Where each tunable layer's hyper-parameters come from, in words."""
    parts = []
    for name in TUNABLE:
        if name in reused:
            parts.append(f"{name}: from {chosen.source}")
        elif name in trials:
            bound = f" (time bound {config.tune_seconds:g} s)" if config.tune_seconds else ""
            parts.append(f"{name}: tuned here, {len(trials[name])} of {_trial_budget(config, name)} trials{bound}")
        else:
            parts.append(f"{name}: defaults")
    return "; ".join(parts)


def permutation_importance(layer: Layer, test: Dataset, predicted: np.ndarray, seed: int, top: int = 20) -> pd.Series:
    """AUC lost when one feature's values are shuffled across the test samples (0 = unused)."""
    rng = np.random.default_rng(seed)
    reference = auc(test.y, predicted)
    drops = {}
    for column in getattr(layer, "columns_", []):
        shuffled = test.X.copy()
        shuffled[column] = rng.permutation(shuffled[column].to_numpy())
        drops[column] = reference - auc(test.y, layer.predict(shuffled, test.windows))
    return pd.Series(drops, dtype="float64").sort_values(ascending=False).head(top)


def _no_rates() -> pd.DataFrame:
    return pd.DataFrame({"pattern": [], "known_at": pd.DatetimeIndex([], tz="UTC"), "hit": []})


def _trained_through(data: Dataset) -> dict[str, str]:
    frame = pd.DataFrame({"series": data.symbols.astype(str) + ":" + data.timeframes.astype(str), "t": data.times})
    return {s: t.isoformat() for s, t in frame.groupby("series")["t"].max().items()}


def _oof_frame(data: Dataset, fold_of: np.ndarray, oof: np.ndarray, fused: np.ndarray) -> pd.DataFrame:
    rows = np.flatnonzero(fold_of >= 0)
    frame = pd.DataFrame({"pos": rows, "time": data.times[rows], "label_end": data.label_end[rows], "symbol": data.symbols[rows],
                          "timeframe": data.timeframes[rows], "y": data.y[rows], "fold": fold_of[rows]})
    for j, name in enumerate(LAYERS):
        frame[f"p_{name}"] = oof[rows, j]
    frame["fused"] = fused[rows]
    return frame


def scored(frame: pd.DataFrame) -> pd.DataFrame:
    """The OOF rows the fused model is evaluated on (those with a fused prediction)."""
    return frame[frame["fused"].notna()]


def series_probability(oof: pd.DataFrame, symbol: str, timeframe: str) -> pd.Series:
    """One series' fused out-of-fold probabilities by bar time (fold 0, unscored, left out)."""
    rows = scored(oof[(oof["symbol"] == symbol) & (oof["timeframe"] == timeframe)])
    return pd.Series(rows["fused"].to_numpy(), index=pd.DatetimeIndex(rows["time"]), name="probability").sort_index()


def _evaluate(frame: pd.DataFrame, folds: list[Fold]) -> tuple[list[dict], dict[str, float]]:
    rows = []
    for k, fold in enumerate(folds):
        part = frame[frame["fold"] == k]
        row = {"fold": k, "test_start": fold.test_start.isoformat(), "test_end": fold.test_end.isoformat(),
               "n_train": len(fold.train), "n_test": len(fold.test),
               "auc_fused": auc(part["y"].to_numpy(), part["fused"].to_numpy()) if part["fused"].notna().all() else float("nan")}
        row |= {f"auc_{name}": auc(part["y"].to_numpy(), part[f"p_{name}"].to_numpy()) for name in LAYERS}
        rows.append(row)
    evaluated = scored(frame)
    if evaluated.empty:
        raise NotEnoughData("no walk-forward fold after the first had a stacker fitted on earlier folds: more data or fewer splits")
    y = evaluated["y"].to_numpy()
    metrics = {f"{k}": v for k, v in scores(y, evaluated["fused"].to_numpy()).items()}
    metrics["wf_auc"] = metrics["auc"]
    fold_aucs = np.array([r["auc_fused"] for r in rows if not np.isnan(r["auc_fused"])])
    metrics |= {"wf_auc_std": float(fold_aucs.std(ddof=1)) if len(fold_aucs) > 1 else 0.0, "wf_auc_min": float(fold_aucs.min()),
                "n_evaluated": float(len(evaluated)), "positive_rate": float(y.mean())}
    for name in LAYERS:
        metrics[f"auc_{name}"] = auc(y, evaluated[f"p_{name}"].to_numpy())
    for (symbol, timeframe), part in evaluated.groupby(["symbol", "timeframe"]):  # pooled AUC can hide a weak series
        metrics[f"auc_series.{symbol}_{timeframe}"] = auc(part["y"].to_numpy(), part["fused"].to_numpy())
    return rows, metrics


def _window(frame: pd.DataFrame, label_config: dict) -> str:
    """What `wf_auc` was measured on: the scored span, the series and the label settings."""
    evaluated = scored(frame)
    series = ",".join(sorted(set(evaluated["symbol"].astype(str) + ":" + evaluated["timeframe"].astype(str))))
    labels = json.dumps(label_config, sort_keys=True, separators=(",", ":"))
    return f"{evaluated['time'].min():%Y-%m-%dT%H:%M}..{evaluated['time'].max():%Y-%m-%dT%H:%M} [{series}] labels={labels}"

