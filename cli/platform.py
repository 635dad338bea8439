"""`tx run`: the pipeline, then the Dagster UI, the MLflow UI and the BentoML service
until Ctrl-C (or SIGTERM), which stops all three."""

import signal
import time

from pipelines.instance import child_env
from tx.errors import ConfigError
from cli.pipeline import run_pipeline
from tx.processes import Server, bentoml_server, dagster_server, mlflow_server, port_in_use, stop_all, wait_ready
from tx.settings import Settings


def servers(settings: Settings) -> list[Server]:
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    host = settings.host
    return [
        dagster_server(child_env(settings), host, settings.dagster_port, logs / "dagster.log"),
        mlflow_server(settings.tracking_uri, settings.mlflow_artifacts, host, settings.mlflow_port, logs / "mlflow.log"),
        bentoml_server(host, settings.serving_port, logs / "bentoml.log"),
    ]


def run_platform(settings: Settings, skip_pipeline: bool = False) -> int:
    for setting, port in (("TX_DAGSTER_PORT", settings.dagster_port), ("TX_MLFLOW_PORT", settings.mlflow_port), ("TX_SERVING_PORT", settings.serving_port)):
        if port_in_use(settings.host, port):
            raise ConfigError(setting, f"port {port} on {settings.host} is already in use; stop what holds it or choose another port")
    if not skip_pipeline:
        run_pipeline(settings)

    def interrupt(*_: object) -> None:
        raise KeyboardInterrupt  # SIGTERM stops the platform the way Ctrl-C does

    # Explicit for SIGINT too: a shell starting us in the background would have it ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    procs = servers(settings)
    try:
        for server in procs:
            server.start()
        print("starting the Dagster UI, the MLflow UI and the BentoML service ...", flush=True)
        wait_ready(procs)
        print("\nTX is running:", flush=True)
        for server in procs:
            print(f"  {server.name:<16} {server.ui_url}", flush=True)
        print(f"logs in {settings.home / 'logs'}; press Ctrl-C to stop all three.", flush=True)
        while True:
            time.sleep(1)
            dead = [s for s in procs if not s.running()]
            if dead:
                print(f"{dead[0].name} exited (code {dead[0].proc.returncode}); see {dead[0].log}. Stopping.", flush=True)
                return 1
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C (or SIGTERM) must not abort the shutdown half-way and orphan a
        # server: ignore both while stopping; stop_all escalates to SIGKILL on its own.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        print("stopping ...", flush=True)
        stop_all(procs)
        print("stopped.", flush=True)
