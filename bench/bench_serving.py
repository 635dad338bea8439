"""Serving benchmark: wrk from a second process on loopback against a real `bentoml serve`,
beside the floor — the no-op `/health` of the same mounted FastAPI app, same workers, same run.

Run:  .venv/bin/python bench/bench_serving.py [--workers 2] [--connections 32] [--seconds 10]
Needs `wrk` (Debian: apt-get install wrk). Sets up throw-away stores: a champion trained
quickly on three synthetic series (the architecture served is the default one; only the
tuning budget is small), the bundled GOOGL daily candles and a read key whose rate limit
is out of the way. Prints a Markdown table for docs/BENCHMARKS.md.
"""

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.stores import throwaway, train_champion  # noqa: E402

LUA = """wrk.method = "{method}"
wrk.headers["X-API-Key"] = "{key}"
wrk.headers["Content-Type"] = "application/json"
{body}
"""


def setup(home: Path) -> tuple[dict[str, str], str, str]:
    env, settings, engine = throwaway(home)
    from market.files import bundled
    from market.universe import Series
    from store.api_keys import create_key
    from store.candles import upsert_candles

    upsert_candles(engine, "GOOGL", "1d", bundled().read(Series("GOOGL", "1d")), "bundled")
    frames = train_champion(engine, settings)
    _rl_champion(frames, settings)
    key = create_key(engine, "read", "bench")
    body = [{"timestamp": t.isoformat(), "open": r.open, "high": r.high, "low": r.low, "close": r.close, "volume": r.volume}
            for t, r in frames["SYNB"].tail(600).iterrows()]
    engine.dispose()
    return env, key, json.dumps({"candles": body, "timeframe": "1d"})


def _rl_champion(frames: dict, settings) -> None:
    """A tx-rl champion for /api/ml/rl-action: an agent on a small budget, promoted by force
    (recorded as the bench's) when the gate refuses it — this measures serving, not skill."""
    from trading.rl_pipeline import train_rl_and_promote
    from training.promotion import gate_rl
    from training.recorder import RL_MODEL, Recorder
    from training.rl.agent import RlConfig

    outcome = train_rl_and_promote([(s, "1d", c, None) for s, c in frames.items()], tracking_uri=settings.tracking_uri,
                                   artifact_root=settings.mlflow_artifacts, config=RlConfig(timesteps=1024, n_splits=2))
    if not outcome.decision.promoted:
        gate_rl(Recorder(settings.tracking_uri), RL_MODEL, outcome.version, force=True, actor="bench_serving")


def wrk(url: str, script: Path, connections: int, seconds: int) -> dict:
    out = subprocess.run(["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", "--latency", "-s", str(script), url],
                         capture_output=True, text=True, check=True).stdout
    def ms(label: str) -> float:
        value, unit = re.search(rf"^\s+{label}\s+([\d.]+)(us|ms|s)\s*$", out, re.M).groups()
        return float(value) * {"us": 1e-3, "ms": 1.0, "s": 1e3}[unit]
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return {"p50": ms("50%"), "p99": ms("99%"), "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
            "non2xx": int(errors.group(1)) if errors else 0}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--workers", type=int, default=2)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument("--seconds", type=int, default=10)
    p.add_argument("--only", default="", help="run only the cases whose name contains this (the floor always runs)")
    args = p.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (Debian: apt-get install wrk)")
    home = Path(tempfile.mkdtemp(prefix="tx-bench-serving-"))
    env, key, candles_body = setup(home)
    from tx.processes import bentoml_server, free_port, wait_ready

    server = bentoml_server("127.0.0.1", free_port(), log=home / "bentoml.log", workers=args.workers, traffic={"max_concurrency": 1000})
    server.env = {**env, **server.env}
    cases = [
        ("floor: no-op GET /health", "GET", "/health", None),
        ("score a symbol (stored candles)", "POST", "/api/ml/score", json.dumps({"symbol": "SYNA", "timeframe": "1d"})),
        ("GET /api/candles/GOOGL?limit=100", "GET", "/api/candles/GOOGL?limit=100", None),
        ("GET /api/market/GOOGL", "GET", "/api/market/GOOGL", None),
        ("GET /api/ml/active-version", "GET", "/api/ml/active-version", None),
        ("GET /api/symbols", "GET", "/api/symbols", None),
        ("GET /api/market-scan", "GET", "/api/market-scan", None),
        ("RL action (stored candles, paper position)", "POST", "/api/ml/rl-action", json.dumps({"symbol": "SYNA"})),
        ("score 600 given candles", "POST", "/api/ml/score", candles_body),  # last: its backlog outlives the wrk run
    ]
    cases = [cases[0], *(c for c in cases[1:] if args.only in c[0])]
    rows = []
    server.start()
    try:
        wait_ready([server], timeout_s=180)
        scripts = []
        for k, (name, method, path, body) in enumerate(cases):
            script = home / f"case{k}.lua"
            script.write_text(LUA.format(method=method, key=key, body=f"wrk.body = {json.dumps(body)}" if body else ""))
            wrk(server.ui_url + path, script, args.connections, 2)  # warm-up: models loaded, caches filled, JIT done
            scripts.append((name, server.ui_url + path, script))
        floor_name, floor_url, floor_script = scripts[0]
        for name, url, script in scripts[1:]:
            # The floor right before each case: this shared machine drifts by +-20% over minutes.
            rows.append((name, wrk(floor_url, floor_script, args.connections, args.seconds), wrk(url, script, args.connections, args.seconds)))
    finally:
        server.stop()
        shutil.rmtree(home, ignore_errors=True)
    print(f"wrk -t2 -c{args.connections} -d{args.seconds}s, {args.workers} BentoML workers, loopback, {os.cpu_count()} cores; "
          f"each case measured right after its own floor run ({floor_name})\n")
    print("| endpoint | p50 ms | p99 ms | req/s | floor p50 ms | floor p99 ms | floor req/s | p50 / floor | p99 / floor | req/s / floor "
          "| non-2xx |\n|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for name, floor, r in rows:
        print(f"| {name} | {r['p50']:.1f} | {r['p99']:.1f} | {r['rps']:.0f} | {floor['p50']:.1f} | {floor['p99']:.1f} | {floor['rps']:.0f} | "
              f"{r['p50'] / floor['p50']:.2f} | {r['p99'] / floor['p99']:.2f} | {r['rps'] / floor['rps']:.2f} | {r['non2xx']} |")


if __name__ == "__main__":
    main()
