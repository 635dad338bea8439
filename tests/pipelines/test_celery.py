"""TX_EXECUTOR=celery for real: `tx backfill --wait` of four synthetic series with two `tx worker`
processes (each in a working folder of its own), sharing only the Dagster instance and the app
database on a throwaway PostgreSQL, the RabbitMQ broker (a queue of the test's own) and
TX_FRAMES_URL. The run itself runs in the run process `tx backfill` starts. Every worker is
killed by its fixture, on failure too."""

import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import dagster as dg
import pandas as pd
import pytest

from tx.settings import ROOT

pytestmark = [pytest.mark.heavy, pytest.mark.postgres, pytest.mark.e2e]
UNIVERSE = "SYNA:1d,SYNB:1d,SYNC:1d,SYND:1d"
FRAMES = ("features", "patterns", "labels")


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("DAGSTER_")}
    return base | {"PYTHONPATH": str(ROOT), "TX_PROVIDERS": "synthetic", "TX_UNIVERSE": UNIVERSE, "TX_LOG_FORMAT": "text"} | extra


def _tx(env: dict[str, str], cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    cwd.mkdir(parents=True, exist_ok=True)
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)


class Workers:
    def __init__(self, env: dict[str, str], tmp_path: Path) -> None:
        self.env, self.tmp, self.procs = env, tmp_path, {}

    def start(self, name: str) -> str:
        folder = self.tmp / name
        folder.mkdir(parents=True, exist_ok=True)
        env = self.env | {"TX_HOME": str(folder / "tx")}  # a working folder and TX_HOME of its own
        log = open(folder / "worker.log", "wb")  # noqa: SIM115
        self.procs[name] = subprocess.Popen([sys.executable, "-m", "cli.main", "worker", "--name", name], cwd=folder, env=env,
                                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        log.close()
        return name

    def wait_ready(self, timeout: float = 180) -> None:
        deadline = time.monotonic() + timeout
        for name in self.procs:
            log = self.tmp / name / "worker.log"
            while b" ready." not in log.read_bytes():
                assert self.procs[name].poll() is None, log.read_text(errors="replace")[-3000:]
                assert time.monotonic() < deadline, f"worker {name} not ready: " + log.read_text(errors="replace")[-3000:]
                time.sleep(0.5)

    def kill(self, name: str) -> None:
        proc = self.procs[name]
        try:
            os.killpg(proc.pid, signal.SIGKILL)  # the worker and its pool processes
        except ProcessLookupError:
            pass
        proc.wait(timeout=30)

    def kill_all(self) -> None:
        for name in list(self.procs):
            self.kill(name)


@pytest.fixture
def celery_env(tmp_path, pg_platform):
    queue = f"tx-test-{uuid.uuid4().hex[:8]}"  # stray workers elsewhere never take this test's steps
    env = _env(tmp_path, TX_EXECUTOR="celery", TX_CELERY_QUEUE=queue, TX_POSTGRES_URL=pg_platform,
               TX_FRAMES_URL=str(tmp_path / "shared-frames"), TX_HOME=str(tmp_path / "launcher" / "tx"))
    done = _tx(env, tmp_path / "launcher", "migrate")
    assert done.returncode == 0, done.stderr[-3000:]
    return env


@pytest.fixture
def workers(celery_env, tmp_path):
    pool = Workers(celery_env, tmp_path)
    yield pool
    pool.kill_all()


def _frames(folder: Path) -> dict[str, pd.DataFrame]:
    return {f"{a}/{p.parent.name}": pd.read_parquet(p) for a in FRAMES for p in sorted((folder / a).glob("*/*.parquet"))}


def _checks(output: str) -> list[str]:
    return sorted(line.strip().split(" (")[0] for line in output.splitlines() if line.strip().startswith("check "))


def _instance(env: dict[str, str]) -> dg.DagsterInstance:
    from pipelines.instance import instance
    from tx.settings import load_settings

    saved = dict(os.environ)
    os.environ.update({k: env[k] for k in ("TX_POSTGRES_URL", "TX_HOME")})
    try:
        return instance(load_settings())
    finally:
        os.environ.clear()
        os.environ.update(saved)


def _worker_of_steps(dagster: dg.DagsterInstance, run_id: str) -> list[tuple[str, str]]:
    """(step, worker hostname) of every "Executing steps ... in celery worker" event (dagster-celery's)."""
    out = []
    for entry in dagster.all_logs(run_id, of_type=dg.DagsterEventType.ENGINE_EVENT):
        data = entry.dagster_event.engine_event_data
        if data and "Celery worker" in (data.metadata or {}):
            out.append((entry.dagster_event.step_key, data.metadata["Celery worker"].value))
    return out


def _run_id(output: str) -> str:
    return next(line.split()[1] for line in output.splitlines() if line.startswith("run ") and " started" in line)


def test_a_backfill_on_two_celery_workers_matches_the_in_process_one(tmp_path, workers, celery_env):
    reference = _tx(_env(tmp_path, TX_HOME=str(tmp_path / "ref" / "tx")), tmp_path / "ref", "backfill", "--wait")
    assert reference.returncode == 0, reference.stderr[-3000:]
    assert "1 run(s) succeeded" in reference.stdout

    w1, w2 = workers.start(f"w1-{uuid.uuid4().hex[:4]}"), workers.start(f"w2-{uuid.uuid4().hex[:4]}")
    workers.wait_ready()
    done = _tx(celery_env, tmp_path / "launcher", "backfill", "--wait")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "executor celery" in done.stdout and "1 run(s) succeeded" in done.stdout

    ours, theirs = _frames(tmp_path / "shared-frames"), _frames(tmp_path / "ref" / "tx" / "frames")
    assert sorted(ours) == sorted(theirs) and len(ours) == 12
    for key, frame in theirs.items():
        pd.testing.assert_frame_equal(ours[key], frame, obj=key)
    assert _checks(done.stdout) == _checks(reference.stdout) and len(_checks(done.stdout)) >= 4

    dagster = _instance(celery_env)
    run = dagster.get_run_by_id(_run_id(done.stdout))
    assert run.status == dg.DagsterRunStatus.SUCCESS and run.tags["dagster/asset_partition_range_start"] == "SYNA|1d"
    steps = _worker_of_steps(dagster, run.run_id)
    assert {s for s, _ in steps} == {"candles", "pattern_base_rates", "features", "patterns", "labels"}
    assert {h.split("@")[0] for _, h in steps} == {w1, w2}, steps  # both workers ran steps
    assert dagster.get_materialized_partitions(dg.AssetKey("labels")) == {"SYNA|1d", "SYNB|1d", "SYNC|1d", "SYND|1d"}


def test_a_worker_killed_mid_step_hands_the_step_to_the_other(tmp_path, workers, celery_env):
    env = celery_env | {"TX_RUN_TIMEOUT_S": "420", "TX_SYNTHETIC_BARS": "2500"}  # longer steps: the kill lands mid-step
    names = [workers.start(f"w{i}-{uuid.uuid4().hex[:4]}") for i in (1, 2)]
    workers.wait_ready()
    launcher = subprocess.Popen([sys.executable, "-m", "cli.main", "backfill", "--wait"], cwd=tmp_path / "launcher", env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        dagster, victim, deadline = _instance(env), None, time.monotonic() + 400
        while victim is None:
            assert launcher.poll() is None and time.monotonic() < deadline, "features never started on a worker"
            runs = dagster.get_runs(dg.RunsFilter(tags={"tx/launched_by": "tx backfill"}), limit=1)
            found = [h for s, h in _worker_of_steps(dagster, runs[0].run_id) if s == "features"] if runs else []
            if found:
                victim = found[0].split("@")[0]
                workers.kill(victim)  # kill -9, the worker and its pool process, while it runs the step
            time.sleep(0.1)
        out, _ = launcher.communicate(timeout=500)
    finally:
        if launcher.poll() is None:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
    assert launcher.returncode == 0, out[-4000:]
    run = dagster.get_run_by_id(_run_id(out))
    assert run.status == dg.DagsterRunStatus.SUCCESS
    steps = _worker_of_steps(dagster, run.run_id)
    features_on = [h.split("@")[0] for s, h in steps if s == "features"]
    survivor = next(n for n in names if n != victim)
    # the step's message went back to the queue when its worker died (acks late), and the other worker ran it again
    assert features_on == [victim, survivor], steps
    frames = tmp_path / "shared-frames"
    assert not [p for p in frames.rglob("*") if p.name.endswith(".partial")]  # no half-written frame left behind
    assert len(_frames(frames)) == 12
    assert not dagster.get_runs(dg.RunsFilter(statuses=[dg.DagsterRunStatus.STARTED]))
