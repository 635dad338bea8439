"""Backtest assets: pattern, strategy and walk-forward, over every stored series.

Each stores one row per series (what `/api/backtest/*` serves and re-runs), logs one MLflow
run in experiment `tx-backtests` (walk-forward: a child run per window) with equity and
drawdown plots, and shows the figures and plots as Dagster metadata. The strategy and
walk-forward backtests trade only on out-of-sample probabilities: predictions made by
models that never saw those bars' labels.
"""

import json
import time
from dataclasses import replace

import dagster as dg
import pandas as pd

from assets.candles import candles
from assets.plots import png_markdown
from assets.inputs import TRAINING_INS, stored_series
from assets.training import TrainingConfig, champion_model, fused_model
from features.labels import spec_config
from features.patterns import HORIZON
from market.universe import Series
from resources.stores import AppDatabase, MlflowTracking
from store.backtests import save_backtest
from store.candles import coverage, load_candles
from trading import plots
from trading.backtest import BacktestInputError, format_return
from trading.patterns import pattern_backtest as run_pattern_backtest
from trading.patterns import pattern_performance
from trading.strategy import StrategyParams, StrategyReport, curve_points
from trading.strategy import strategy_backtest as run_strategy_backtest
from trading.walkforward import walk_forward
from training.fit import TUNABLE, scored, series_probability
from training.metrics import auc
from training.pipeline import fit_series
from training.report import TUNED_PARAM, Window, log_backtest, recorded_choice
from training.splits import NotEnoughData
from training.recorder import FUSED_MODEL, Recorder

PLOTTED = 3  # series drawn in Dagster metadata (all of them go to MLflow)


class CostsConfig(dg.Config):
    fee: float = 0.001  # TX_BACKTEST_FEE
    slippage: float = 0.0005  # TX_BACKTEST_SLIPPAGE
    execution: str = "next_open"  # or "close": trade on the bar's own close (an explicit choice)


class PatternBacktestConfig(CostsConfig):
    horizon: int = HORIZON  # bars each detection is held


class StrategyConfig(CostsConfig):
    buy_threshold: float = 0.55  # TX_BACKTEST_BUY_THRESHOLD
    sell_threshold: float = 0.45  # TX_BACKTEST_SELL_THRESHOLD
    allow_short: bool = True
    stop_loss: float = 0.0  # 0: none
    take_profit: float = 0.0  # 0: none
    sizing: str = "full"  # or "vol_target"
    target_vol: float = 0.15  # annualized, for vol_target

    def params(self) -> StrategyParams:
        return StrategyParams(self.buy_threshold, self.sell_threshold, self.allow_short, self.fee, self.slippage, self.execution,
                              self.stop_loss or None, self.take_profit or None, sizing=self.sizing, target_vol=self.target_vol)


class WalkForwardConfig(StrategyConfig, TrainingConfig):
    """The strategy's thresholds and costs, and the training's settings; n_splits windows, of
    which the first has no stacker yet, so n_splits - 1 are traded. Each window's layers are
    fitted with the hyper-parameters the fused model's tuning chose (recorded in its MLflow
    run), unless `retune`: then a study per tunable layer runs here, as in training."""

    train_bars: int = 750  # TX_BACKTEST_TRAIN_BARS: rolling training window (0: expanding)
    retune: bool = False  # TX_BACKTEST_RETUNE: tune here instead of reusing the fused model's hyper-parameters


def _key(series: Series | tuple[str, str]) -> str:
    symbol, timeframe = series if isinstance(series, tuple) else (series.symbol, series.timeframe)
    return f"{symbol}_{timeframe}"


def _run_metrics(prefix: str, metrics: dict) -> dict:
    keep = ("total_return", "annual_return", "sharpe", "sortino", "max_drawdown", "calmar", "win_rate", "profit_factor", "exposure", "trades")
    return {f"{prefix}.{k}": metrics[k] for k in keep if metrics.get(k) is not None}


def _strategy_plot(report: StrategyReport, title: str, boundaries: list[pd.Timestamp] | None = None):
    return plots.equity_drawdown({name: run.equity for name, run in report.runs.items()}, title, boundaries)


def _table_md(rows: list[dict]) -> str:
    frame = pd.DataFrame(rows)
    return frame.to_markdown(index=False, floatfmt=".4f") if len(frame) else "nothing to show"


def _ret(metrics: dict) -> str:
    return format_return(metrics["total_return"], metrics.get("annual_return"))


def _versus(report: StrategyReport) -> str:
    """'strategy +12.0% (log 0.113, CAGR +5.1%/yr) with max dd 8.1% over 40 trades, vs buy_and_hold +5.0% (...), ...'"""
    m = {name: run.metrics for name, run in report.runs.items()}
    others = ", ".join(f"{name} {_ret(x)}" for name, x in m.items() if name != "strategy")
    return f"strategy {_ret(m['strategy'])} with max dd {m['strategy']['max_drawdown']:.1%} over {m['strategy']['trades']} trades, vs {others}"


def _figures_row(name: str, metrics: dict) -> dict:
    return {"run": name, "total_return": metrics["total_return"], "sharpe": metrics["sharpe"], "max_drawdown": metrics["max_drawdown"],
            "trades": metrics["trades"], "win_rate": metrics["win_rate"]}


@dg.asset(
    deps=[candles],
    group_name="backtests",
    kinds={"numpy", "mlflow"},
    description="Pattern backtest of every stored series: per pattern and timeframe the detections, win rate, mean return "
    "and t-statistic net of costs (entering at the next open, held `horizon` bars), and the equity of trading them all.",
)
def pattern_backtest(context: dg.AssetExecutionContext, config: PatternBacktestConfig, app_db: AppDatabase,
                     mlflow_tracking: MlflowTracking) -> dg.MaterializeResult:
    started = time.time()  # the MLflow run spans the backtest, not only its logging
    stored = coverage(app_db.engine)
    if stored.empty:
        raise dg.Failure("no stored candles: materialize candles first")
    done, parts, metrics, figures, tables = {}, [], {}, {}, {}
    for row in stored.itertuples():
        bars = load_candles(app_db.engine, row.symbol, row.timeframe)
        try:
            bt = run_pattern_backtest(bars, config.horizon, fee=config.fee, slippage=config.slippage, execution=config.execution)
        except BacktestInputError as exc:
            context.log.warning(f"{row.symbol}:{row.timeframe}: {exc}")
            continue
        key = _key((row.symbol, row.timeframe))
        done[(row.symbol, row.timeframe)] = bt
        parts.append(bt.detections.assign(timeframe=row.timeframe))
        metrics |= _run_metrics(key, bt.result.metrics)
        figures[f"patterns_{key}.png"] = plots.pattern_returns(bt.table, f"{row.symbol}:{row.timeframe} patterns, {config.horizon} bars")
        figures[f"equity_drawdown_{key}.png"] = plots.equity_drawdown({"all detections": bt.result.equity}, f"{row.symbol}:{row.timeframe}: trading every detection")
        tables[f"patterns_{key}.csv"] = bt.table
    if not done:
        raise dg.Failure("no stored series is long enough for a pattern backtest")
    pooled = pattern_performance(pd.concat(parts, ignore_index=True), by=("pattern", "timeframe"))
    tables["patterns_by_timeframe.csv"] = pooled
    params = config.model_dump()
    run_id, experiment_id = log_backtest("patterns", tracking_uri=mlflow_tracking.tracking_uri, artifact_root=mlflow_tracking.artifact_root,
                                         params=params, metrics=metrics, tags={"tx.backtest": "pattern"}, figures=figures, tables=tables,
                                         started=started)
    for (symbol, timeframe), bt in done.items():
        save_backtest(app_db.engine, {"kind": "pattern", "symbol": symbol, "timeframe": timeframe, "params": params,
                                      "metrics": bt.result.metrics, "result": {"patterns": bt.table, "equity": curve_points(bt.result.equity)},
                                      "mlflow_run_id": run_id, "dagster_run_id": context.run_id})
    first = next(iter(done.values()))
    symbol, timeframe = next(iter(done))
    matured = pooled[pooled["matured"] >= 30]
    best = matured.loc[matured["t_stat"].idxmax()] if len(matured) else None
    summary = (f"{len(done)} series, {pooled['pattern'].nunique()} patterns, held {config.horizon} bars net of costs; "
               + (f"strongest {best['pattern']} {best['timeframe']} (t={best['t_stat']:.1f}, n={best['matured']}); " if best is not None else "")
               + "trading every detection: " + ", ".join(f"{s}:{t} {_ret(bt.result.metrics)}" for (s, t), bt in done.items()))
    return dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.text(summary),
        "series": dg.MetadataValue.int(len(done)),
        "patterns": dg.MetadataValue.md(pooled.head(25).to_markdown(index=False, floatfmt=".4f")),
        "mlflow_run": dg.MetadataValue.url(mlflow_tracking.run_url(experiment_id, run_id)),
        "returns_plot": dg.MetadataValue.md(png_markdown(plots.pattern_returns(first.table, f"{symbol}:{timeframe}"), "pattern returns")),
        "equity_plot": dg.MetadataValue.md(png_markdown(plots.equity_drawdown({"all detections": first.result.equity},
                                                                               f"{symbol}:{timeframe}: trading every detection"), "equity")),
    })


@dg.asset(
    deps=[fused_model, champion_model],
    group_name="backtests",
    kinds={"mlflow"},
    description="Strategy backtest: the champion's out-of-fold fused probabilities through buy/sell thresholds, against "
    "buy-and-hold and an SMA crossover on the same bars (the newest trained version while there is no champion).",
)
def strategy_backtest(context: dg.AssetExecutionContext, config: StrategyConfig, app_db: AppDatabase,
                      mlflow_tracking: MlflowTracking) -> dg.MaterializeResult:
    started = time.time()
    found = Recorder(mlflow_tracking.tracking_uri).with_out_of_fold()
    if found is None:
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(f"no {FUSED_MODEL} version with out-of-fold predictions yet: train first")})
    version, oof, why = found
    params = config.params()
    reports: dict[tuple[str, str], tuple[StrategyReport, pd.Series]] = {}
    for (symbol, timeframe), _ in scored(oof).groupby(["symbol", "timeframe"]):
        probability = series_probability(oof, symbol, timeframe)
        bars = load_candles(app_db.engine, symbol, timeframe)
        try:
            reports[(symbol, timeframe)] = run_strategy_backtest(bars, probability, params), probability
        except BacktestInputError as exc:
            context.log.warning(f"{symbol}:{timeframe}: {exc}")
    if not reports:
        raise dg.Failure(f"v{version.version}'s out-of-fold predictions fall on no stored candles")
    metrics = {k: v for (s, t), (r, _) in reports.items() for name, run in r.runs.items() for k, v in _run_metrics(f"{_key((s, t))}.{name}", run.metrics).items()}
    figures = {f"equity_drawdown_{_key(k)}.png": _strategy_plot(r, f"{k[0]}:{k[1]} v{version.version}") for k, (r, _) in reports.items()}
    run_id, experiment_id = log_backtest(f"strategy v{version.version}", tracking_uri=mlflow_tracking.tracking_uri,
                                         artifact_root=mlflow_tracking.artifact_root, params=params.as_dict() | {"model_version": version.version},
                                         metrics=metrics, tags={"tx.backtest": "strategy", "tx.model_version": str(version.version)},
                                         figures=figures, tables={}, started=started)
    rows = []
    for (symbol, timeframe), (report, probability) in reports.items():
        save_backtest(app_db.engine, {"kind": "strategy", "symbol": symbol, "timeframe": timeframe, "model_version": str(version.version),
                                      "params": params.as_dict(), "metrics": report.runs["strategy"].metrics, "result": report.as_dict(),
                                      "inputs": {"time": probability.index, "probability": probability.to_numpy()},
                                      "mlflow_run_id": run_id, "dagster_run_id": context.run_id})
        rows += [{"series": f"{symbol}:{timeframe}"} | _figures_row(name, run.metrics) for name, run in report.runs.items()]
    plotted = list(reports.items())[:PLOTTED]
    summary = f"v{version.version} ({why}): " + "; ".join(f"{s}:{t} {_versus(r)}" for (s, t), (r, _) in reports.items())
    return dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.text(summary),
        "model_version": dg.MetadataValue.text(str(version.version)),
        "why_this_version": dg.MetadataValue.text(why),
        "results": dg.MetadataValue.md(_table_md(rows)),
        "mlflow_run": dg.MetadataValue.url(mlflow_tracking.run_url(experiment_id, run_id)),
        **{f"equity_{_key(k)}": dg.MetadataValue.md(png_markdown(_strategy_plot(r, f"{k[0]}:{k[1]} v{version.version}"), "equity"))
           for k, (r, _) in plotted},
    })


@dg.asset(
    ins=TRAINING_INS,
    group_name="backtests",
    kinds={"pytorch", "scikitlearn", "mlflow"},
    description="Walk-forward analysis: the fused predictor retrained on rolling windows (training/, purged, embargoed), "
    "each next window traded on its out-of-sample probabilities; one MLflow run per window, the equity stitched.",
)
def walk_forward_backtest(context: dg.AssetExecutionContext, config: WalkForwardConfig, app_db: AppDatabase, mlflow_tracking: MlflowTracking,
                          features: dict[str, pd.DataFrame], labels: dict[str, pd.DataFrame], pattern_base_rates: pd.DataFrame) -> dg.MaterializeResult:
    started = time.time()  # the MLflow run spans the retraining too
    series = stored_series(context, app_db, features, labels, config.timeframes)
    train_config = replace(config.train_config(mlflow_tracking.optuna_storage), train_window_bars=config.train_bars)
    chosen, reason = None, "TX_BACKTEST_RETUNE is set"
    if not config.retune:
        found = recorded_choice(mlflow_tracking.tracking_uri)
        if isinstance(found, str):
            reason = found
            context.log.warning(f"{found}: the walk-forward tunes its own hyper-parameters")
        else:
            chosen = found
    try:
        trained, _ = fit_series(series, base_rates_table=pattern_base_rates, label_config=spec_config(series[0].labels),
                                config=train_config, progress=lambda what, done, total: context.log.info(f"[{done}/{total}] {what}"),
                                say=context.log.info, final=False, chosen=chosen)
    except NotEnoughData as exc:
        context.log.warning(f"no walk-forward analysis: {exc}")
        return dg.MaterializeResult(metadata={"skipped": dg.MetadataValue.text(f"not enough data: {exc}")})
    used = chosen is not None and "tuning" not in trained.notes  # its hyper-parameters, not a study of its own
    params_from = trained.params_from + (f" ({trained.notes['tuning']})" if "tuning" in trained.notes
                                         else "" if used else f" ({reason})")
    tuned = {name: trained.best_params.get(name, {}) for name in TUNABLE}
    origin = {"params_from": params_from, "params_version": chosen.version if used else "", "params_run_id": chosen.run_id if used else ""}
    params = config.params()
    wf = walk_forward(trained.folds, trained.oof, [(s.symbol, s.timeframe, s.candles) for s in series], params,
                      probability=series_probability, auc=auc)
    traded, spans = wf.folds, wf.spans
    metrics, figures, per_window = {}, {}, {f["fold"]: {} for f in traded}
    for s in wf.series:
        for w in s.windows:
            per_window[w["fold"]] |= {f"{_key(s)}.{k}": w[k] for k in ("total_return", "max_drawdown", "trades", "auc") if w[k] is not None}
        metrics |= {k: v for name, run in s.report.runs.items() for k, v in _run_metrics(f"{_key(s)}.{name}", run.metrics).items()}
        figures[f"equity_drawdown_{_key(s)}.png"] = _strategy_plot(s.report, f"{s.symbol}:{s.timeframe} walk-forward, stitched", [a for a, _ in spans])
    child_runs = [Window(f"window {f['fold']}: {f['test_start'][:10]}..{f['test_end'][:10]}",
                         {"test_start": f["test_start"], "test_end": f["test_end"], "n_train": f["n_train"], "n_test": f["n_test"]},
                         {"auc_fused": f["auc_fused"]} | per_window[f["fold"]]) for f in traded]
    run_id, experiment_id = log_backtest(
        f"walk-forward {spans[0][0]:%Y-%m-%d}..{spans[-1][1]:%Y-%m-%d}", tracking_uri=mlflow_tracking.tracking_uri,
        artifact_root=mlflow_tracking.artifact_root, params=params.as_dict() | {f"train.{k}": v for k, v in vars(train_config).items()}
        | {"train.retune": config.retune} | origin | {TUNED_PARAM.format(layer=name): json.dumps(p, sort_keys=True) for name, p in tuned.items()},
        metrics=metrics | {"wf_auc": trained.metrics["wf_auc"]} | {f"tuning_trials_{name}": len(trained.trials.get(name, [])) for name in TUNABLE},
        tags={"tx.backtest": "walk_forward", "tx.params_version": origin["params_version"], "tx.params_run_id": origin["params_run_id"]},
        figures=figures,
        tables={"windows.csv": pd.DataFrame(trained.folds)}, windows=child_runs, started=started)
    rows = []
    for s in wf.series:
        save_backtest(app_db.engine, {"kind": "walk_forward", "symbol": s.symbol, "timeframe": s.timeframe, "params": params.as_dict()
                                      | {"windows": config.n_splits, "train_bars": config.train_bars},
                                      "metrics": s.report.runs["strategy"].metrics | {"wf_auc": trained.metrics["wf_auc"]},
                                      "result": s.report.as_dict() | {"windows": s.windows},
                                      "inputs": {"time": s.probability.index, "probability": s.probability.to_numpy()},
                                      "mlflow_run_id": run_id, "dagster_run_id": context.run_id})
        rows += [{"series": f"{s.symbol}:{s.timeframe}", **w} for w in s.windows]
    plotted = wf.series[:PLOTTED]
    where = f"hyper-parameters of {FUSED_MODEL} v{chosen.version}" if used else "hyper-parameters tuned here"
    summary = (f"{len(traded)} windows traded, {spans[0][0]:%Y-%m-%d}..{spans[-1][1]:%Y-%m-%d}, {where}, wf_auc {trained.metrics['wf_auc']:.4f}; stitched: "
               + "; ".join(f"{s.symbol}:{s.timeframe} {_versus(s.report)}" for s in wf.series))
    return dg.MaterializeResult(metadata={
        "summary": dg.MetadataValue.text(summary),
        "wf_auc": dg.MetadataValue.float(float(trained.metrics["wf_auc"])),
        "params_from": dg.MetadataValue.text(params_from),
        "params_version": dg.MetadataValue.text(f"{FUSED_MODEL} v{chosen.version}" if used else "none: tuned here"),
        "params_run_id": dg.MetadataValue.text(origin["params_run_id"] or "none"),
        "hyper_parameters": dg.MetadataValue.json(tuned),
        "tuning_trials": dg.MetadataValue.json({name: len(trained.trials.get(name, [])) for name in TUNABLE}),
        "seconds": dg.MetadataValue.json({k: round(v, 1) for k, v in trained.seconds.items()}),
        "windows": dg.MetadataValue.md(_table_md(rows)),
        "mlflow_run": dg.MetadataValue.url(mlflow_tracking.run_url(experiment_id, run_id)),
        **{f"equity_{_key(s)}": dg.MetadataValue.md(png_markdown(_strategy_plot(s.report, f"{s.symbol}:{s.timeframe} walk-forward, stitched", [a for a, _ in spans]), "equity"))
           for s in plotted},
    })
