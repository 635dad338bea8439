"""`tx demo` and `tx run` as real processes, as `make demo` / `make run` start them."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import pytest

from tx.processes import free_port
from tx.settings import ROOT

TX = str(Path(sys.executable).parent / "tx")
SMALL_UNIVERSE = "SPX:1d,EURUSD:1h"

pytestmark = pytest.mark.e2e


def tx(*args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([TX, *args], cwd=ROOT, env=dict(os.environ), capture_output=True, text=True, timeout=timeout)


@pytest.mark.heavy
def test_demo_on_the_embedded_default(monkeypatch, tx_env):
    monkeypatch.setenv("TX_UNIVERSE", SMALL_UNIVERSE)
    done = tx("demo")
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"candles\s+SPX:1d\s+5031 bars\s+1999-01-04 \.\. 2018-12-31\s+from bundled", out), out
    assert re.search(r"candles\s+EURUSD:1h\s+6225 bars", out)
    assert re.search(r"SPX:1d .* checks 5/6 passed\n\s+warning no_gaps: 180 gap\(s\)", out)  # the 2001-09-11 closure
    assert re.search(r"data_coverage\s+universe\s+series=2, bars=11256", out)
    assert re.search(r"features\s+SPX:1d\s+rows=5031, columns=95, nan_share=[0-9.]+  checks 2/2 passed", out)
    assert re.search(r"labels\s+SPX:1d\s+rows=5031.*checks 1/1 passed", out)
    assert re.search(r"pattern_heatmap\s+universe\s+series=2, patterns=\d+", out)
    assert re.search(r"strategy_backtest\s+universe\s+v1 \(v1, the newest trained version \(no champion yet\)\): SPX:1d strategy", out), out
    assert re.search(r"walk_forward_backtest\s+universe\s+\d windows traded", out), out
    # trained on the daily series (TX_TRAIN_TIMEFRAMES=1d), registered, gated: real index data has no 0.6 AUC in it
    assert re.search(r"fused_model\s+universe\s+wf_auc=0\.\d{4} \(fold sd 0\.\d{4}\) on \d+ samples", out), out
    assert re.search(r"gate: not promoted -> tx-fused v1: wf_auc 0\.\d{4} does not exceed the threshold 0\.6", out)
    # the online step, right after training: every matured label was just learned
    assert re.search(r"online_model\s+universe\s+on v1: 0 newly matured label\(s\) since the model last learned \(< 20\): "
                     r"nothing to update", out), out
    assert re.search(r"registered:\n  tx-fused v1  @challenger\n", out)
    assert re.search(r'GET http://127\.0\.0\.1:\d+/health -> 200 \{"status": "ok"', out)
    assert Path(tx_env["TX_HOME"], "tx.db").exists()
    # a second run is idempotent: same bars, nothing duplicated
    again = tx("demo", "--no-serve")
    assert again.returncode == 0, again.stderr[-3000:]
    assert re.search(r"candles\s+SPX:1d\s+5031 bars", again.stdout)
    assert "tx-fused v2  @challenger" in again.stdout  # versions are never overwritten


@pytest.mark.heavy
def test_demo_with_all_three_stores_on_postgresql(monkeypatch, pg_platform):
    monkeypatch.setenv("TX_POSTGRES_URL", pg_platform)
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("TX_UNIVERSE", "GOOGL:1d")
    done = tx("demo", "--no-serve")
    assert done.returncode == 0, done.stderr[-3000:]
    db = pg_platform.rsplit("/", 1)[1]
    assert f"app database  postgresql://postgres@127.0.0.1:5432/{db}\n" in done.stdout
    assert f"mlflow        postgresql+psycopg://postgres@127.0.0.1:5432/{db}_mlflow" in done.stdout
    assert f"dagster       postgresql://postgres@127.0.0.1:5432/{db}_dagster" in done.stdout
    assert re.search(r"candles\s+GOOGL:1d\s+2335 bars", done.stdout)


@pytest.mark.heavy
def test_bring_your_own_data_folder(monkeypatch, tmp_path):
    data = tmp_path / "mydata"
    data.mkdir()
    (data / "ACME_1h.csv").write_text(
        "timestamp,open,high,low,close,volume\n"
        + "".join(f"2024-01-02T{h:02d}:00:00Z,10,11,9,10.5,{100 + h}\n" for h in range(24))
    )
    monkeypatch.setenv("TX_DATA_DIR", str(data))
    monkeypatch.setenv("TX_UNIVERSE", "ACME:1h")
    done = tx("demo", "--no-serve")
    assert done.returncode == 0, done.stderr[-3000:]
    assert re.search(r"candles\s+ACME:1h\s+24 bars\s+2024-01-02 \.\. 2024-01-02\s+from local", done.stdout)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"TX_UNIVERSE": "NOPE:1d"}, r"TX_UNIVERSE: no data for NOPE:1d; available: EURUSD:1h, GOOGL:1d"),
        ({"TX_UNIVERSE": "SPX:7d"}, r"TX_UNIVERSE: 'SPX:7d': unknown timeframe '7d'"),
        ({"TX_DATA_DIR": "/no/such/dir"}, r"TX_DATA_DIR: folder /no/such/dir does not exist"),
        ({"TX_DATABASE_URL": "postgresql://postgres@127.0.0.1:1/tx"}, r"TX_DATABASE_URL: cannot connect to postgresql://postgres@127\.0\.0\.1:1/tx"),
        ({"TX_POSTGRES_URL": "postgres:/oops"}, r"TX_POSTGRES_URL: "),
        ({"TX_DAGSTER_POSTGRES_URL": "postgresql://postgres@127.0.0.1:1/d"}, r"TX_DAGSTER_POSTGRES_URL: cannot connect"),
        ({"MLFLOW_TRACKING_URI": "http://127.0.0.1:1"}, r"MLFLOW_TRACKING_URI: MLflow server at http://127\.0\.0\.1:1 does not answer"),
    ],
)
def test_bad_configuration_is_one_clear_line_and_writes_nothing(monkeypatch, tx_env, env, message):
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    done = tx("demo", "--no-serve", timeout=120)
    assert done.returncode == 2
    assert re.search(message, done.stderr), done.stderr
    assert "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1
    assert not Path(tx_env["TX_HOME"], "tx.db").exists()
    assert not Path(tx_env["TX_HOME"], "dagster").exists()


def test_a_malformed_file_in_the_data_folder_is_named(monkeypatch, tmp_path, tx_env):
    data = tmp_path / "mydata"
    data.mkdir()
    (data / "BAD_1d.csv").write_text("timestamp,open,high,low,close,volume\n2024-01-02T00:00:00Z,10,9,11,10,1\n")
    monkeypatch.setenv("TX_DATA_DIR", str(data))
    done = tx("demo", "--no-serve", timeout=120)
    assert done.returncode == 2
    assert f"TX_DATA_DIR: {data / 'BAD_1d.csv'}: 1 bar(s) with high/low not bounding open/close" in done.stderr
    assert not Path(tx_env["TX_HOME"], "tx.db").exists()


def launched_through_dagster(ports: dict[str, int]) -> None:
    """POST /api/ml/train puts a training_job run into Dagster's queue (cancelled here: the
    test only needs to see it arrive), and /api/workers/health reads it back from the instance."""
    from dagster_graphql import DagsterGraphQLClient, DagsterGraphQLClientError

    key = tx("api-key", "create", "--scope", "admin", "--name", "e2e").stdout.strip().splitlines()[-1]
    url = f"http://127.0.0.1:{ports['TX_SERVING_PORT']}"
    answer = httpx.post(url + "/api/ml/train", json={"note": "e2e"}, headers={"X-API-Key": key}, timeout=60)
    assert answer.status_code == 202, answer.text
    run_id = answer.json()["run_id"]
    dagster = DagsterGraphQLClient("127.0.0.1", port_number=ports["TX_DAGSTER_PORT"])
    assert dagster.get_run_status(run_id).value in ("QUEUED", "NOT_STARTED", "STARTING", "STARTED")
    workers = httpx.get(url + "/api/workers/health", headers={"X-API-Key": key}, timeout=60).json()["workers"]
    assert next(w for w in workers if w["job"] == "training_job")["last_run"]["run_id"] == run_id
    for _ in range(60):  # a run STARTING cannot be terminated yet: wait until it is queued or started
        try:
            dagster.terminate_run(run_id)
            break
        except DagsterGraphQLClientError:
            time.sleep(1)
    assert dagster.get_run_status(run_id).value in ("CANCELING", "CANCELED", "SUCCESS", "FAILURE")


@pytest.mark.heavy
def test_run_serves_three_uis_and_stops_them_on_ctrl_c(monkeypatch, tx_env):
    ports = {"TX_DAGSTER_PORT": free_port(), "TX_MLFLOW_PORT": free_port(), "TX_SERVING_PORT": free_port()}
    for key, port in ports.items():
        monkeypatch.setenv(key, str(port))
    monkeypatch.setenv("TX_UNIVERSE", "GOOGL:1d")
    monkeypatch.setenv("TX_MODEL_POLL_S", "1")  # the service reads the gate's decision at once
    proc = subprocess.Popen([TX, "run"], cwd=ROOT, env=dict(os.environ), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    seen: list[str] = []
    try:
        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line and proc.poll() is not None:
                break
            seen.append(line)
            if "press Ctrl-C" in line:
                break
        out = "".join(seen)
        assert "press Ctrl-C" in out, out[-3000:]
        for port in ports.values():
            assert f"http://127.0.0.1:{port}" in out
        assert httpx.get(f"http://127.0.0.1:{ports['TX_DAGSTER_PORT']}/server_info", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['TX_MLFLOW_PORT']}/health", timeout=10).status_code == 200
        assert httpx.get(f"http://127.0.0.1:{ports['TX_SERVING_PORT']}/health", timeout=10).json()["status"] == "ok"
        # the UIs came first; the pipeline now runs as Dagster runs, a line each, up to the gate's decision
        gate = _read_until(proc, seen, "gate: ", deadline=time.monotonic() + 900)
        out = "".join(seen)
        assert "launching the default pipeline as Dagster runs" in out
        assert re.search(r"\[1/11\] done   candles: GOOGL:1d in \d+ s \(candles_job, run [0-9a-f]{8}\)\n\s+candles\s+GOOGL:1d\s+2335 bars", out), out
        assert re.search(r"gate: not promoted -> tx-fused v1: wf_auc 0\.\d{4} does not exceed the threshold 0\.6", gate), out[-3000:]
        assert "Couldn't load partition" not in out  # the partitions are the universe's series
        key = tx("api-key", "create", "--scope", "read").stdout.strip().splitlines()[-1]
        refused = httpx.post(f"http://127.0.0.1:{ports['TX_SERVING_PORT']}/api/ml/score", json={"symbol": "GOOGL"},
                             headers={"X-API-Key": key}, timeout=30)
        assert refused.status_code == 503 and "the gate did not promote v1: wf_auc" in refused.json()["error"]["message"]
        launched_through_dagster(ports)
        tree = psutil.Process(proc.pid).children(recursive=True)  # servers, BentoML's worker, Dagster's daemons
        assert any("_bentoml_impl.worker.service" in _cmdline(p) for p in tree)
        proc.send_signal(signal.SIGINT)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)  # an impatient second Ctrl-C must not orphan a server
        rest, _ = proc.communicate(timeout=90)
        assert proc.returncode == 0, rest[-3000:]
        assert "stopped." in rest
        for port in ports.values():
            with pytest.raises(httpx.ConnectError):
                httpx.get(f"http://127.0.0.1:{port}/", timeout=2)
        left = [_cmdline(p) for p in tree if _alive(p)]
        assert left == []  # no worker or daemon survives the Ctrl-C
    finally:
        if proc.poll() is None:  # a failed assertion above: stop the platform the way SIGTERM does, then insist
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def _read_until(proc: subprocess.Popen, seen: list[str], marker: str, deadline: float) -> str:
    """The first line of `proc`'s output with `marker` (every line read is kept in `seen`)."""
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line and proc.poll() is not None:
            break
        seen.append(line)
        if marker in line:
            return line
    raise AssertionError(f"no {marker!r} in the output:\n{''.join(seen)[-3000:]}")


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def _cmdline(proc: psutil.Process) -> str:
    try:
        return " ".join(proc.cmdline())
    except psutil.Error:
        return ""


def _news_feeds(httpserver, folder: Path) -> dict[str, str]:
    """A replayed NewsAPI (two recent articles about SYNA) and a news file with three years of
    headlines for the synthetic series: what the demo's news phase ingests."""
    import numpy as np

    stamp = lambda days: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(time.time() - days * 86400))  # noqa: E731
    articles = [{"source": {"name": "Wire"}, "title": "SYNA beats estimates", "description": "Shares surge.", "url": "u1",
                 "publishedAt": stamp(2)},
                {"source": {"name": "Wire"}, "title": "SYNA downgraded", "description": None, "url": "u2", "publishedAt": stamp(1)}]
    from werkzeug import Response

    httpserver.expect_request("/v2/everything").respond_with_handler(lambda request: Response(
        json.dumps({"status": "ok", "articles": articles if request.args["q"] == "SYNA" else []}), content_type="application/json"))
    rng = np.random.default_rng(0)
    days = np.sort(rng.choice(np.arange(365 * 3), 300, replace=False))
    words = ["beats estimates, shares surge", "misses estimates, shares plunge", "upgraded to outperform", "downgraded after the recall"]
    (folder / "news").mkdir(parents=True)
    rows = [f"{rng.choice(['SYNA', 'SYNB', 'SYNC'])},{(np.datetime64('2011-01-03T14:00') + np.timedelta64(int(d), 'D'))}Z,"
            f'"Company {i} {rng.choice(words)}",desk' for i, d in enumerate(days)]
    (folder / "news" / "history.csv").write_text("symbol,published_at,text,source\n" + "\n".join(rows) + "\n")
    return {"TX_NEWSAPI_KEY": "k", "TX_NEWSAPI_URL": httpserver.url_for(""), "TX_DATA_DIR": str(folder)}


@pytest.mark.heavy  # about 3 min: CI runs it
def test_demo_promotes_a_planted_signal_and_its_alerts_reach_a_trader(monkeypatch, tx_env, httpserver, tmp_path):
    """From a clone to a champion: synthetic series with a planted momentum signal and labels
    on its horizon; the gate promotes the fused model and says why. The news phase ingests
    a replayed provider and a news file, and the sentiment layer trains on them; the drift
    report goes to MLflow. Then the demo's scan raises alerts; a client subscribed to the
    live feed sees one, trades on it, closes the trade and reads its attribution to the
    fused model's layers."""
    from websockets.sync.client import connect

    from training.recorder import client

    from tx.processes import bentoml_server, wait_ready

    from cli.showcase import PLANTED  # the README's planted-signal settings

    env = {**PLANTED, "TX_ALERT_CONFIDENCE": "0.55", **_news_feeds(httpserver, tmp_path / "data")}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    for key in ("TX_RL_TIMESTEPS", "TX_RL_SPLITS"):  # the agent with its default budget, as `make demo` trains it
        monkeypatch.delenv(key)
    done = tx("demo", "--no-serve")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert re.search(r"news\s+universe\s+2 fetched, 300 from files: 302 new", done.stdout), done.stdout
    assert re.search(r"model_drift\s+universe\s+v1: \d+% of \d+ features drifted; live: 0 matured predictions", done.stdout), done.stdout
    mlflow_client = client(tx_env["MLFLOW_TRACKING_URI"])  # tracking and registry both (an earlier test may have set a global registry)
    trained = mlflow_client.get_run(mlflow_client.get_model_version("tx-fused", "1").run_id)
    assert re.match(r"\d+ training samples with news", trained.data.tags["tx.note.sentiment"])  # the sentiment layer learned from them
    monitoring = mlflow_client.get_experiment_by_name("tx-monitoring")
    (drift_run,) = mlflow_client.search_runs([monitoring.experiment_id])
    assert "drift_report.html" in [a.path for a in mlflow_client.list_artifacts(drift_run.info.run_id)]
    assert re.search(r"gate: PROMOTED to champion -> tx-fused v1: wf_auc 0\.(6|7|8)\d{3} exceeds 0\.6 \(no champion yet\)", done.stdout), done.stdout
    assert "tx-fused v1  @challenger @champion" in done.stdout
    # the agent learned from the champion's out-of-fold outputs, trades the signal better than the threshold: promoted
    assert re.search(r"rl_policy\s+universe\s+tx-rl v1 \(promoted\): OOS Sharpe \d+\.\d+ vs fused-threshold", done.stdout), done.stdout
    assert re.search(r"gate: PROMOTED to champion -> tx-rl v1: out-of-sample Sharpe after costs \d+\.\d+ significantly > 0", done.stdout), done.stdout
    assert "tx-rl v1  @challenger @champion" in done.stdout
    assert re.search(r"alert_scan\s+universe\s+3 series scored by v1: [1-3] alert\(s\) at confidence >= 0\.55", done.stdout), done.stdout
    assert re.search(r"pattern_backtest\s+universe\s+3 series, \d+ patterns, held 5 bars net of costs", done.stdout), done.stdout
    assert re.search(r"strategy_backtest\s+universe\s+v1 \(champion v1\): SYNA:1d strategy [+-]\d", done.stdout), done.stdout
    assert re.search(r"walk_forward_backtest\s+universe\s+[2-4] windows traded, .* wf_auc 0\.(6|7|8)\d{3}; stitched: SYNA:1d", done.stdout), done.stdout
    key = tx("api-key", "create", "--scope", "trade", "--name", "e2e").stdout.strip().splitlines()[-1]
    server = bentoml_server("127.0.0.1", free_port(), log=Path(tx_env["TX_HOME"]) / "bentoml.log")
    server.env = dict(os.environ)
    server.start()
    try:
        wait_ready([server], timeout_s=180)
        ws_url = server.ui_url.replace("http://", "ws://") + "/ws?since=0"  # a client that subscribed before the scan
        with connect(ws_url, additional_headers={"X-API-Key": key}) as ws:
            assert json.loads(ws.recv(timeout=30))["type"] == "hello"
            replayed = [json.loads(ws.recv(timeout=30))]
            while replayed[-1]["kind"] != "alert":  # the demo's new bars, their patterns and scores come first
                replayed.append(json.loads(ws.recv(timeout=30)))
            alert = replayed[-1]
            assert {e["kind"] for e in replayed[:-1]} <= {"bar", "pattern", "score"} and replayed[0]["kind"] == "bar"
            assert any(e["kind"] == "score" and e["symbol"] == alert["symbol"] for e in replayed)  # the scan scored the bar first
            symbol, side = alert["symbol"], "buy" if alert["data"]["direction"] == "up" else "sell"
            assert alert["data"]["model_version"] == "1" and alert["data"]["confidence"] >= 0.55
            headers = {"X-API-Key": key}
            trade = httpx.post(server.ui_url + "/api/paper-trade/execute", json={"symbol": symbol, "side": side, "quantity": 5},
                               headers={**headers, "Idempotency-Key": f"alert-{alert['data']['id']}"}, timeout=60)
            assert trade.status_code == 200, trade.text
            fill = json.loads(ws.recv(timeout=30))
            while fill["kind"] != "fill":  # the scan's other events come first
                fill = json.loads(ws.recv(timeout=30))
            assert fill["kind"] == "fill" and fill["data"]["order_id"] == trade.json()["order_id"]
        for path in ("pattern", "strategy", "walk-forward"):  # the demo's backtests, served
            answer = httpx.post(f"{server.ui_url}/api/backtest/{path}", json={"symbol": symbol, "points": 20}, headers=headers, timeout=60)
            assert answer.status_code == 200, answer.text
        walk = answer.json()
        assert walk["wf_auc"] > 0.6 and len(walk["windows"]) >= 2 and walk["stored"]["mlflow_run_id"]
        assert all(w["bars"] > 0 for w in walk["windows"]) and walk["runs"]["strategy"]["metrics"]["trades"] > 0
        acted = httpx.post(server.ui_url + "/api/ml/rl-action", json={"symbol": symbol}, headers=headers, timeout=60)
        assert acted.status_code == 200 and acted.json()["rl_version"] == "1" and acted.json()["fused_version"] == "1", acted.text
        traded = httpx.post(f"{server.ui_url}/api/backtest/strategy", json={"symbol": symbol, "policy": "rl", "points": 20},
                            headers=headers, timeout=60)
        assert traded.status_code == 200 and traded.json()["source"].startswith("tx-rl v1"), traded.text
        closed = httpx.post(f"{server.ui_url}/api/paper-trades/{trade.json()['id']}/close", headers=headers, timeout=60).json()
        assert closed["status"] == "closed"
        attribution = httpx.get(server.ui_url + "/api/paper-trades/attribution", headers=headers, timeout=60).json()
        mine = next(t for t in attribution["trades"] if t["id"] == closed["id"])
        assert mine["model_version"] == "1" and set(mine["layers"]) == {"pattern", "deep", "multitimeframe", "sentiment"}
    finally:
        server.stop()
