"""Start the platform's servers as child processes, wait until they answer, stop them and
every process they started.

A server is not one process group: BentoML's arbiter (circus) starts each worker with
`setsid()`, in a session and group of its own, so signalling the server's group misses the
workers, and a worker whose arbiter is killed keeps serving on the port. So a `Server`
follows its process tree while it runs (`psutil`, every `FOLLOW_S`), and `stop_all` stops the
server, then every recorded descendant still alive, SIGKILL past the grace; that holds when the
server died first and left its workers orphaned. On Linux two ties hold without us: the
server gets SIGTERM when the process that started it dies (`tx run` killed), and a BentoML
worker when its arbiter dies (`die_with_server`, called by the service).
"""

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil

from tx.errors import TxError
from tx.settings import ROOT

BIN = Path(sys.executable).parent  # the venv's console scripts
FOLLOW_S = 1.0  # how often a running server's process tree is recorded
SERVER_PID_ENV = "TX_SERVER_PID"  # in a server's environment: the pid of the server process tx started
PR_SET_PDEATHSIG = 1

# Runs in the child between fork and the server's exec (which keeps the pid), stdlib only:
# ask Linux for SIGTERM when the starting process dies, and tell the server's descendants
# which pid is their server. argv: the starting pid (0: no tie), then the server's argv.
LAUNCH = f"""
import ctypes, os, signal, sys
parent, argv = int(sys.argv[1]), sys.argv[2:]
if parent and sys.platform.startswith("linux"):
    ctypes.CDLL(None, use_errno=True).prctl({PR_SET_PDEATHSIG}, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:
        sys.exit("tx.processes: the process that started this server is gone")
os.environ["{SERVER_PID_ENV}"] = str(os.getpid())
os.execvp(argv[0], argv)
"""


class ServerError(TxError):
    """A server exited or never answered; the message points at its log."""


@dataclass
class Server:
    name: str
    argv: list[str]
    health_url: str
    ui_url: str
    env: dict[str, str] = field(default_factory=dict)
    log: Path | None = None
    cwd: Path = ROOT
    proc: subprocess.Popen | None = None
    _tree: dict[int, psutil.Process] = field(default_factory=dict, init=False, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False)
    _done: threading.Event = field(default_factory=threading.Event, init=False, repr=False)

    def start(self) -> None:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 (closed below, the child keeps its copy)
        # Linux signals a child's death wish when the *thread* that started it ends: tie the
        # server to us only when that thread is the main one, which ends with the process.
        parent = os.getpid() if threading.current_thread() is threading.main_thread() else 0
        # A session of its own: Ctrl-C in the terminal reaches us only, and we stop the servers
        # in order, each with every process it started.
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-c", LAUNCH, str(parent), *self.argv],
                cwd=self.cwd, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()
        with self._lock:
            self._tree = {}
        self._done = threading.Event()
        threading.Thread(target=self._follow, args=(self.proc, self._done), name=f"follow {self.name}", daemon=True).start()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def _follow(self, proc: subprocess.Popen, done: threading.Event) -> None:
        while not done.wait(FOLLOW_S) and proc.poll() is None:
            self.record()

    def record(self) -> list[psutil.Process]:
        """Record the server's live descendants (workers started since are found on the next
        call); returns every recorded process still alive, including those the server no
        longer owns (it died and they were re-parented)."""
        if self.running():
            try:
                found = psutil.Process(self.proc.pid).children(recursive=True)
            except psutil.Error:
                found = []
            with self._lock:
                self._tree.update((p.pid, p) for p in found)
        with self._lock:
            for pid in [pid for pid, p in self._tree.items() if not _alive(p)]:
                del self._tree[pid]
            return list(self._tree.values())

    def descendants(self) -> list[psutil.Process]:
        """The recorded descendants still alive (without looking for new ones)."""
        with self._lock:
            return [p for p in self._tree.values() if _alive(p)]

    def signal_group(self, sig: int) -> None:
        """Signal the server's own process group (not the workers BentoML puts in groups of
        their own)."""
        if self.running():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def signal(self, sig: int) -> None:
        """Signal the server's process group and every descendant recorded (a BentoML worker
        is in a group of its own), whether or not the server still runs."""
        self.signal_group(sig)
        for proc in self.descendants():
            try:
                proc.send_signal(sig)  # refuses a pid reused since it was recorded
            except psutil.Error:
                pass

    def stop(self, grace_s: float = 20) -> None:
        stop_all([self], grace_s)


def _alive(proc: psutil.Process) -> bool:
    try:
        return proc.is_running() and proc.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False


def stop_all(servers: list["Server"], grace_s: float = 20) -> None:
    """Stop every server and every process it started; returns when none is left.

    SIGTERM (and SIGCONT) each server's process group; while a server stops its workers
    itself, keep recording its tree (a worker it respawns meanwhile is stopped too); once a
    server has exited, SIGTERM the recorded descendants it left (all of them when it was dead
    already: killed, its workers orphaned). Past `grace_s`, freeze a server still running
    (SIGSTOP: it starts nothing more), record its tree once more, and SIGKILL every process
    left. Only recorded descendants can be stopped once their server is dead: one started
    less than `FOLLOW_S` before its server was killed can be missed (a BentoML worker then
    still dies with its server, by `die_with_server`)."""
    started = [s for s in servers if s.proc is not None]
    for server in started:
        server.record()
        # the server alone first: signalled at once, a worker could die before its arbiter
        # begins to stop, and be respawned
        server.signal_group(signal.SIGTERM)
        server.signal_group(signal.SIGCONT)  # a stopped process acts on SIGTERM only once continued
    deadline = time.monotonic() + grace_s
    orphans_signalled: list[Server] = []
    while True:
        left = False
        for server in started:
            if server.running():
                server.record()
                left = True
            elif server.record():
                left = True
                if not any(s is server for s in orphans_signalled):
                    orphans_signalled.append(server)
                    server.signal(signal.SIGTERM)
                    server.signal(signal.SIGCONT)
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.1)
    for server in started:
        if server.running():
            try:
                os.kill(server.proc.pid, signal.SIGSTOP)
            except ProcessLookupError:
                pass
            server.record()
        server.signal(signal.SIGKILL)
    for server in started:
        server._done.set()
        try:
            server.proc.wait(5)
        except subprocess.TimeoutExpired:
            pass
        psutil.wait_procs(server.descendants(), timeout=5)


def die_with_server() -> None:
    """In a worker of a server tx started (a BentoML worker: its parent is the server's
    arbiter), ask Linux for SIGTERM when the server dies, so that no worker outlives it even
    when nobody stops it (`kill -9` of the server or of its group). Elsewhere it does nothing:
    not on Linux, not in a server tx did not start, not in the server itself. A worker whose
    server died while it was starting exits at once."""
    server = os.environ.get(SERVER_PID_ENV, "")
    if not sys.platform.startswith("linux") or not server.isdigit() or int(server) == os.getpid():
        return
    if os.getppid() == int(server):
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)
        if os.getppid() == int(server):
            return
    else:
        try:
            if _alive(psutil.Process(int(server))):
                return  # started further down the server's tree, not by the server: not a worker
        except psutil.Error:
            pass
    raise SystemExit(f"the server (pid {server}) that started this worker is gone")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_ready(servers: list[Server], timeout_s: float = 180) -> None:
    """Block until every server answers its health URL; raise if one exits or times out."""
    deadline = time.monotonic() + timeout_s
    pending = list(servers)
    while pending:
        for server in list(pending):
            if not server.running():
                hint = f"; see {server.log}" if server.log else ""
                raise ServerError(f"{server.name} exited with code {server.proc.returncode if server.proc else '?'}{hint}")
            if server.ready():
                pending.remove(server)
        if pending and time.monotonic() > deadline:
            raise ServerError(f"{', '.join(s.name for s in pending)} did not answer within {timeout_s:.0f} s")
        if pending:
            time.sleep(0.5)


SERVICE = "tx"  # the BentoML service's name (serving/service.py)
RUN_WORKERS = 2  # `tx run` serves with this many workers unless TX_SERVE_WORKERS says otherwise (`tx serve`: 1)


def bentoml_config(workers: int | None = None, **service: object) -> dict[str, str]:
    """The environment that sets the service's BentoML config at serve time: BentoML 1.4's
    JSON override (`BENTOML_CONFIG_OVERRIDES`; the older `BENTOML_CONFIG_OPTIONS` form is
    deprecated), over any override already in the environment. It wins over the
    `@bentoml.service(...)` values, in the arbiter (which starts the workers) and in each worker.
    `service`: other keys of the service's config (`traffic={"max_concurrency": 1000}`)."""
    def merge(into: dict, new: dict) -> dict:
        for key, value in new.items():
            into[key] = merge(into.get(key) if isinstance(into.get(key), dict) else {}, value) if isinstance(value, dict) else value
        return into

    mine = dict(service) | ({"workers": workers} if workers is not None else {})
    overrides = merge(json.loads(os.environ.get("BENTOML_CONFIG_OVERRIDES") or "{}"), {"services": {SERVICE: mine}})
    return {"BENTOML_CONFIG_OVERRIDES": json.dumps(overrides)}


def bentoml_server(host: str, port: int, log: Path | None = None, workers: int | None = None, **service: object) -> Server:
    """`bentoml serve` of the service; `workers` (None: the service's own, 1 or TX_SERVE_WORKERS)
    and other config keys of the service are set through its environment (`bentoml_config`)."""
    return Server(
        "BentoML service",
        [str(BIN / "bentoml"), "serve", "serving.service:TX", "--host", host, "--port", str(port)],
        health_url=f"http://{host}:{port}/health",
        ui_url=f"http://{host}:{port}",
        env=bentoml_config(workers, **service) if workers is not None or service else {},
        log=log,
    )


def mlflow_server(tracking_uri: str, artifacts: str, host: str, port: int, log: Path | None = None, workers: int = 1) -> Server:
    """The MLflow tracking server and UI. One worker and no GenAI job runner (a huey consumer
    we have no use for) by default: each is a process importing MLflow, which a 2-core
    machine pays for at start-up."""
    return Server(
        "MLflow UI",
        [
            str(BIN / "mlflow"), "server",
            "--backend-store-uri", tracking_uri,
            "--registry-store-uri", tracking_uri,
            "--artifacts-destination", artifacts,
            "--host", host, "--port", str(port),
            "--workers", str(workers),
        ],
        health_url=f"http://{host}:{port}/health",
        ui_url=f"http://{host}:{port}",
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},
        log=log,
    )


def dagster_server(env: dict[str, str], host: str, port: int, log: Path | None = None) -> Server:
    # Run from DAGSTER_HOME: from the repository root Dagster would warn that the root
    # dagster.yaml (our template) is not the instance's.
    return Server(
        "Dagster UI",
        [str(BIN / "dagster"), "dev", "-w", str(ROOT / "workspace.yaml"), "-h", host, "-p", str(port)],
        health_url=f"http://{host}:{port}/server_info",
        ui_url=f"http://{host}:{port}",
        env=env,
        log=log,
        cwd=Path(env["DAGSTER_HOME"]),
    )
