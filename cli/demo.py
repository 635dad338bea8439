"""`tx demo`: the whole pipeline headless, then a short summary of what was
materialized, registered and served. Scripts and CI use it; exits 0 on success."""

import json
from datetime import UTC, datetime

import httpx

from cli.pipeline import PipelineReport, run_pipeline
from pipelines.run import Materialized
from training.recorder import Recorder
from tx.processes import free_port
from tx.settings import Settings


def check_serving(settings: Settings) -> str:
    """Serve the service's app (the one BentoML mounts) from this process on a free port, with
    the champion loaded as a worker loads it, and call it over HTTP; returns what it answered.
    A BentoML server would import the whole stack twice more (its arbiter and a worker: about
    20 s here); `make run` serves through BentoML and its end-to-end test covers that path."""
    import threading
    import time

    import uvicorn

    from serving.app import create_app

    app = create_app(settings)
    for model in (app.state.champion, app.state.online):
        model.refresh()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=free_port(), log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the service's app did not start serving")
            time.sleep(0.05)
        url = f"http://127.0.0.1:{server.config.port}/health"
        answer = httpx.get(url, timeout=5)
        return f"GET {url} -> {answer.status_code} {json.dumps(answer.json())} (the service's app in this process; `make run` serves it with BentoML)"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


SUMMARY_KEYS = ("rows", "columns", "nan_share", "detections", "patterns_seen", "take_profit_share", "stop_loss_share", "series", "bars", "patterns", "outcomes")


def online_line(meta: dict) -> str:
    """The online step in one line: what the line learned and how it scores, or why it skipped."""
    base = f"v{meta['base_version']}" if meta.get("base_version") else "no version"
    if "skipped" in meta:
        return f"on {base}: {meta['skipped']}"
    return (f"{meta['model_version']} from {base}: learned {meta['new_samples']} new labels; prequential AUC "
            f"{meta['prequential_auc']:.4f} over {meta['prequential_samples']} samples (half-life {meta['half_life']})")


def asset_lines(m: Materialized) -> list[str]:
    """One line per asset a run materialized (its figures, its checks), and the gate's decision
    under a trained model: what `make demo`'s summary and `make run`'s terminal print."""
    lines = []
    for asset, meta in m.assets.items():
        checks = {k.split(":", 1)[1]: v for k, v in m.checks.items() if k.split(":", 1)[0] == asset}
        failed = {name: summary for name, (passed, summary) in checks.items() if not passed}
        tally = f"  checks {len(checks) - len(failed)}/{len(checks)} passed" if checks else ""
        lines.append(f"  {asset:<18} {m.scope:<10} {_shown(asset, meta)}{tally}")
        if asset in ("fused_model", "online_model", "rl_policy") and "promoted" in meta:
            lines.append(f"  {'':<18} gate: {'PROMOTED to champion' if meta['promoted'] else 'not promoted'} -> {meta['model_version']}: {meta['decision']}")
        lines += [f"  {'':<18} warning {name}: {summary}" for name, summary in failed.items()]
    return lines


def _shown(asset: str, meta: dict) -> str:
    if asset == "candles":
        span = "  ".join(f"{datetime.fromtimestamp(meta[k], UTC):%Y-%m-%d}" for k in ("first_bar", "last_bar") if k in meta)
        return f"{meta.get('stored_bars', 0):>6} bars  {span.replace('  ', ' .. ') or 'none stored'}  from {meta.get('provider', '?')}"
    if asset == "fused_model" and "skipped" in meta:
        return meta["skipped"]
    if asset == "online_model":
        return online_line(meta)
    if asset == "model_drift":
        return meta.get("skipped") or (f"v{meta['model_version']}: {meta['drift_share']:.0%} of {meta['columns_compared']} features "
                                       f"drifted; live: {meta['live_matured']} matured predictions; report in MLflow")
    if asset == "news":
        return (f"{meta['fetched']} fetched, {meta['from_files']} from files: {meta['stored']} new, {meta['duplicates']} "
                f"already stored, {meta['refused_rows']} file row(s) refused")
    if asset.endswith("_backtest"):
        return meta.get("summary") or meta.get("skipped", "")
    if asset == "alert_scan":
        return meta.get("note") or f"{meta['scanned']} series scored by v{meta['model_version']}: {meta['alerts']} alert(s) at confidence >= {meta['threshold']}"
    if asset == "fused_model":
        return f"wf_auc={meta['wf_auc']:.4f} (fold sd {meta['wf_auc_std']:.4f}) on {meta['samples']} samples; layers {meta['layer_auc']}"
    if asset == "rl_policy":
        return meta.get("skipped") or meta["summary"]
    if asset == "champion_model":
        return f"v{meta['version']} (wf_auc {meta['wf_auc']:.4f}): {meta['decision']}"
    return ", ".join(f"{k}={meta[k]}" for k in SUMMARY_KEYS if k in meta)


def summary(report: PipelineReport, settings: Settings, served: str | None) -> str:
    lines = ["", "== TX demo summary ==", "stores:"]
    lines += [f"  {s.name:<13} {s.location}" for s in report.stores]
    lines.append("materialized:")
    for m in report.materialized:
        lines += asset_lines(m)
    lines.append("registered:")
    versions = Recorder(settings.tracking_uri).versions()
    if versions:
        lines += [f"  {v.name} v{v.version}  {' '.join('@' + a for a in v.aliases)}" for v in versions]
    else:
        lines.append("  no model versions yet (the training pipeline registers tx-fused)")
    lines.append("served:")
    lines.append(f"  {served}" if served else "  skipped (--no-serve)")
    return "\n".join(lines)


def demo(settings: Settings, serve: bool = True) -> str:
    report = run_pipeline(settings)
    served = check_serving(settings) if serve else None
    return summary(report, settings, served)
