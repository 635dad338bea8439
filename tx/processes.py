"""Start the platform's servers as child processes, wait until they answer, stop them cleanly."""

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tx.errors import TxError
from tx.settings import ROOT

BIN = Path(sys.executable).parent  # the venv's console scripts


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

    def start(self) -> None:
        out = open(self.log, "ab") if self.log else subprocess.DEVNULL  # noqa: SIM115 (closed below, the child keeps its copy)
        # A session of its own: Ctrl-C in the terminal reaches us only, and we stop the
        # children in order, each with its whole process group (workers, daemons).
        try:
            self.proc = subprocess.Popen(
                self.argv, cwd=self.cwd, env={**os.environ, **self.env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
            )
        finally:
            if out is not subprocess.DEVNULL:
                out.close()

    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def ready(self) -> bool:
        try:
            return httpx.get(self.health_url, timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def signal(self, sig: int) -> None:
        """Signal the server's whole process group (its workers and daemons too)."""
        if self.running():
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass

    def stop(self, grace_s: float = 20) -> None:
        stop_all([self], grace_s)


def stop_all(servers: list["Server"], grace_s: float = 20) -> None:
    """SIGTERM every server at once, wait up to `grace_s`, then SIGKILL what is left."""
    for server in servers:
        server.signal(signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    for server in servers:
        if server.proc is None:
            continue
        try:
            server.proc.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            server.signal(signal.SIGKILL)
            server.proc.wait(5)


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


def bentoml_server(host: str, port: int, log: Path | None = None) -> Server:
    return Server(
        "BentoML service",
        [str(BIN / "bentoml"), "serve", "serving.service:TX", "--host", host, "--port", str(port)],
        health_url=f"http://{host}:{port}/health",
        ui_url=f"http://{host}:{port}",
        log=log,
    )


def mlflow_server(tracking_uri: str, artifacts: str, host: str, port: int, log: Path | None = None) -> Server:
    return Server(
        "MLflow UI",
        [
            str(BIN / "mlflow"), "server",
            "--backend-store-uri", tracking_uri,
            "--registry-store-uri", tracking_uri,
            "--artifacts-destination", artifacts,
            "--host", host, "--port", str(port),
            "--workers", "2",
        ],
        health_url=f"http://{host}:{port}/health",
        ui_url=f"http://{host}:{port}",
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
