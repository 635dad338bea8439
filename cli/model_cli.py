"""`tx train` and `tx promote`: the fused model outside Dagster.

`tx train` runs the same functions as the `fused_model` asset (features, labels, training,
MLflow, gate) on the stored candles, with the features computed on the spot: for
notebooks and quick experiments. `tx promote` puts a registered version through the gate
by hand; `--force` (an admin's call) promotes regardless and is recorded as forced.
"""

import argparse

from tx.errors import ConfigError
from tx.settings import Settings


def add_parsers(sub) -> None:
    promote = sub.add_parser("promote", help="put a tx-fused version through the promotion gate (--force: an admin's override, recorded)")
    promote.add_argument("version", help="the registered version of tx-fused")
    promote.add_argument("--force", action="store_true", help="promote even if the gate would refuse (recorded as forced)")
    promote.add_argument("--actor", default=None, help="who forces it (default: $USER)")

    p = sub.add_parser("train", help="train the fused model on the stored candles, log it to MLflow and run the gate")
    p.add_argument("series", nargs="*", metavar="SYMBOL:TIMEFRAME", help="series to pool (default: every stored one of --timeframes; all stored when none is)")
    p.add_argument("--timeframes", default=None, help="comma-separated timeframes (default: TX_TRAIN_TIMEFRAMES)")
    p.add_argument("--trials", type=int, default=None, help="optuna trials for the multi-timeframe layer (default: TX_TRAIN_TUNE_TRIALS)")
    p.add_argument("--deep-trials", type=int, default=None, help="optuna trials for the deep layer (default: TX_TRAIN_DEEP_TRIALS)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per deep net (default: TX_TRAIN_DEEP_EPOCHS)")
    p.add_argument("--splits", type=int, default=5, help="walk-forward folds (default 5)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--accelerator", default="auto", help='"auto" (default: a GPU when present), "cpu" or "gpu"')


def train(settings: Settings, args: argparse.Namespace) -> int:
    from tqdm import tqdm  # heavy imports here: `tx --help` stays fast

    from features import LabelSpec
    from market.universe import Series, UniverseError, choose_series, parse_universe
    from store.candles import coverage, load_candles
    from store.db import make_engine
    from store.news import load_news
    from training.fit import TrainConfig
    from training.pipeline import train_and_promote
    from training.series import training_series
    from training.splits import NotEnoughData
    from cli.stores import setup_app_database, setup_mlflow

    setup_app_database(settings)
    setup_mlflow(settings)
    engine = make_engine(settings.app_database_url)
    try:
        stored = [Series(r.symbol, r.timeframe) for r in coverage(engine).itertuples()]
        if not stored:
            raise ConfigError("TX_DATABASE_URL", "no stored candles: fetch some first (`tx candles fetch` or `make demo`)")
        if args.series:
            try:
                chosen = parse_universe(",".join(args.series))
            except UniverseError as exc:
                raise ConfigError("SERIES", str(exc)) from None
            missing = [str(s) for s in chosen if s not in stored]
            if missing:
                raise ConfigError("SERIES", f"not stored: {', '.join(missing)}; stored: {', '.join(map(str, stored))}")
        else:
            chosen = choose_series(stored, args.timeframes if args.timeframes is not None else settings.train_timeframes)
        candles = {s: load_candles(engine, s.symbol, s.timeframe) for s in stored}
        spec = LabelSpec(horizon=settings.label_horizon)  # as the labels asset makes them
        label_config = spec.as_dict()
        series, table = training_series(candles, chosen, spec, news_of=lambda symbol: load_news(engine, symbol))
    finally:
        engine.dispose()
    config = TrainConfig(n_splits=args.splits, tune_trials=settings.train_tune_trials if args.trials is None else args.trials,
                         deep_trials=settings.train_deep_trials if args.deep_trials is None else args.deep_trials, deep_epochs=settings.train_deep_epochs if args.epochs is None else args.epochs,
                         seed=args.seed, accelerator=args.accelerator, tune_storage=settings.optuna_storage)
    with tqdm(total=1, unit="step", dynamic_ncols=True) as bar:
        def progress(what: str, done: int, total: int) -> None:
            bar.total = total
            bar.set_description_str(what[:48])
            bar.update(done - bar.n)

        try:
            outcome = train_and_promote(series, tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts,
                                        base_rates_table=table, label_config=label_config, config=config,
                                        threshold=settings.promotion_threshold, progress=progress, say=tqdm.write)
        except NotEnoughData as exc:
            raise ConfigError("SERIES", f"not trained: {exc}") from None
    m, d = outcome.trained.metrics, outcome.decision
    print(f"wf_auc {m['wf_auc']:.4f} (fold sd {m['wf_auc_std']:.4f}), log loss {m['log_loss']:.4f}, brier {m['brier']:.4f}")
    print("layers: " + ", ".join(f"{n} {m[f'auc_{n}']:.4f}" for n in outcome.trained.model.layer_names))
    print("seconds: " + ", ".join(f"{k} {v:.1f}" for k, v in outcome.trained.seconds.items()))
    print(f"registered tx-fused v{d.version}; gate: {'PROMOTED to champion' if d.promoted else 'not promoted'}: {d.reason}")
    print(f"MLflow run {outcome.logged.run_id} (experiment {outcome.logged.experiment_id})")
    return 0


def promote(settings: Settings, args: argparse.Namespace) -> int:
    import getpass

    from training.promotion import gate
    from cli.stores import setup_mlflow
    from training.recorder import FUSED_MODEL, Recorder, TrackingError

    setup_mlflow(settings)
    try:
        decision = gate(Recorder(settings.tracking_uri), FUSED_MODEL, args.version, settings.promotion_threshold, force=args.force,
                        actor=args.actor or getpass.getuser() if args.force else None)
    except TrackingError as exc:
        raise ConfigError("VERSION", f"{FUSED_MODEL} v{args.version}: {exc}") from None
    print(f"{FUSED_MODEL} v{decision.version}: {'PROMOTED to champion' if decision.promoted else 'not promoted'}: {decision.reason}")
    return 0 if decision.promoted else 1
