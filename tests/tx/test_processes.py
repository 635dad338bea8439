"""Stopping a server stops every process it started: BentoML's workers run in process groups of
their own (circus `setsid()`s each one), so a stop that signals the server's group, or a
`kill -9` of it, used to leave a worker serving on the port."""

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import psutil
import pytest

from training.recorder import Recorder
from tx.processes import SERVER_PID_ENV, Server, bentoml_server, free_port, port_in_use, wait_ready
from tx.settings import ROOT


def alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def wait_until(check, timeout_s: float) -> bool:
    deadline = time.monotonic() + timeout_s
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)
    return True


def started_by(server_pid: int) -> list[psutil.Process]:
    """Every live process whose environment names this server: its whole tree, recorded or not."""
    found = []
    for proc in psutil.process_iter():
        try:
            if proc.environ().get(SERVER_PID_ENV) == str(server_pid) and alive(proc):
                found.append(proc)
        except psutil.Error:
            pass
    return found


def toy_server(tmp_path: Path, child: str, name: str = "toy") -> Server:
    """A server process that starts `child` (Python) in a session of its own, as circus starts
    a BentoML worker, then waits; the child touches `child.ready` once it is set up."""
    parent = f"import subprocess, sys, time\nsubprocess.Popen([sys.executable, '-c', {child!r}], start_new_session=True)\ntime.sleep(120)\n"
    return Server(name, [sys.executable, "-c", parent], health_url="", ui_url="", cwd=tmp_path, log=tmp_path / f"{name}.log")


def children_of(server: Server, tmp_path: Path) -> list[psutil.Process]:
    assert wait_until(lambda: (tmp_path / "child.ready").exists(), 30), (tmp_path / "toy.log").read_text()
    found = server.record()
    assert len(found) == 1 and os.getpgid(found[0].pid) != os.getpgid(server.proc.pid)
    return found


def test_a_stop_after_the_server_was_killed_kills_its_orphans(tmp_path):
    # the child ignores SIGTERM and has no tie to its server: only stop()'s record can end it
    server = toy_server(tmp_path, "import pathlib, signal, time\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
                                  "pathlib.Path('child.ready').touch()\ntime.sleep(120)\n")
    server.start()
    try:
        [child] = children_of(server, tmp_path)
        os.killpg(server.proc.pid, signal.SIGKILL)
        server.proc.wait(5)
        time.sleep(0.5)
        assert alive(child)  # orphaned, in its own group: the group's kill missed it
        started = time.monotonic()
        server.stop(grace_s=1)
        assert not alive(child) and time.monotonic() - started < 5
    finally:
        server.stop(grace_s=0)


def test_a_worker_dies_with_its_server(tmp_path):
    # die_with_server (called by the BentoML service in each worker) ties the child to its
    # server: `kill -9` of the server's group ends it without anyone calling stop()
    server = toy_server(tmp_path, "import pathlib, time\nfrom tx.processes import die_with_server\ndie_with_server()\n"
                                  "pathlib.Path('child.ready').touch()\ntime.sleep(120)\n")
    server.env = {"PYTHONPATH": str(ROOT)}
    server.start()
    try:
        [child] = children_of(server, tmp_path)
        os.killpg(server.proc.pid, signal.SIGKILL)
        assert wait_until(lambda: not alive(child), 5)
    finally:
        server.stop(grace_s=0)


def test_a_server_dies_with_the_process_that_started_it(tmp_path):
    # `tx run` killed with SIGKILL: its servers get SIGTERM from the kernel
    script = textwrap.dedent("""
        import sys, time
        from tx.processes import Server
        server = Server("sleep", ["sleep", "120"], health_url="", ui_url="")
        server.start()
        print(server.proc.pid, flush=True)
        time.sleep(120)
    """)
    starter = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT, stdout=subprocess.PIPE, text=True)
    pid = int(starter.stdout.readline())
    sleeper = psutil.Process(pid)
    try:
        assert wait_until(lambda: sleeper.name() == "sleep", 5)  # exec'd through the launcher, same pid
        starter.kill()
        starter.wait(5)
        assert wait_until(lambda: not alive(sleeper), 5)
    finally:
        starter.kill()
        if alive(sleeper):
            sleeper.kill()


@pytest.fixture(scope="module")
def bentoml_pair(tmp_path_factory):
    """Two real `bentoml serve serving.service:TX` on free ports, started together (each
    imports the platform twice, arbiter and worker: about 30 s), on throw-away stores with an
    empty registry (the service starts without a champion)."""
    servers = []
    for case in ("stop", "kill"):
        home = tmp_path_factory.mktemp(f"bentoml-{case}")
        server = bentoml_server("127.0.0.1", free_port(), log=home / "bentoml.log")
        server.env = {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
                      "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"), "TX_DAGSTER_HOME": str(home / "dagster"), "TX_DATABASE_URL": "",
                      "TX_POSTGRES_URL": "", "TX_DAGSTER_POSTGRES_URL": "", "TX_MLFLOW_TRACKING_URI": ""}
        servers.append(server)
    try:
        for server in servers:
            server.start()
        wait_ready(servers, timeout_s=180)
        yield dict(zip(("stop", "kill"), servers))
    finally:
        for server in servers:
            server.stop(grace_s=5)


def workers(server: Server) -> list[psutil.Process]:
    found = server.record()
    assert found and all("_bentoml_impl.worker.service" in p.cmdline() for p in found)
    assert all(os.getpgid(p.pid) != os.getpgid(server.proc.pid) for p in found)  # why killpg is not enough
    return found


@pytest.mark.heavy
@pytest.mark.e2e
def test_stopping_the_service_stops_its_workers(bentoml_pair):
    server = bentoml_pair["stop"]
    port, main = int(server.ui_url.rsplit(":", 1)[1]), server.proc.pid
    found = workers(server)
    server.stop()
    assert not server.running()
    assert [p.pid for p in found if alive(p)] == []
    assert started_by(main) == []
    assert not port_in_use("127.0.0.1", port)


@pytest.mark.heavy
@pytest.mark.e2e
def test_stopping_a_killed_service_stops_its_orphaned_workers(bentoml_pair):
    server = bentoml_pair["kill"]
    port, main = int(server.ui_url.rsplit(":", 1)[1]), server.proc.pid
    found = workers(server)
    # a worker that cannot act on its death signal (stopped), then `kill -9` of the server's group
    for proc in found:
        proc.suspend()
    os.killpg(main, signal.SIGKILL)
    server.proc.wait(5)
    assert all(alive(p) for p in found) and port_in_use("127.0.0.1", port)  # an orphan holds the port
    server.stop(grace_s=10)
    assert [p.pid for p in found if alive(p)] == []
    assert started_by(main) == []
    assert not port_in_use("127.0.0.1", port)


@pytest.mark.heavy
@pytest.mark.e2e
def test_the_service_runs_the_workers_it_is_given(tmp_path):
    """`bentoml_server(workers=2)` (what `tx run` does: TX_SERVE_WORKERS, default 2) reaches
    BentoML 1.4.40 through its config override and wins over the service's `workers=1`."""
    home = tmp_path
    server = bentoml_server("127.0.0.1", free_port(), log=home / "bentoml.log", workers=2)
    server.env |= {"TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"), "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db",
                   "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"), "TX_DAGSTER_HOME": str(home / "dagster"), "TX_DATABASE_URL": ""}
    # the store migrated first, as `tx run` and `tx serve` do: two workers opening a fresh SQLite
    # MLflow store at once would both run its migrations (seen in CI: `_alembic_tmp_experiments already exists`)
    Recorder(server.env["MLFLOW_TRACKING_URI"], server.env["TX_MLFLOW_ARTIFACTS"]).init_store()
    try:
        server.start()
        wait_ready([server], timeout_s=180)
        assert wait_until(lambda: len(workers(server)) == 2, 60), [p.cmdline() for p in server.record()]
    finally:
        server.stop(grace_s=5)
