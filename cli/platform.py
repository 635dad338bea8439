"""`tx run`: the Dagster UI, the MLflow UI and the BentoML service first, then the default
pipeline as queued Dagster runs that the UI shows as they go, with a line per finished run
here; until Ctrl-C (or SIGTERM), which stops all three."""

import signal
import threading
import time

from cli.pipeline import check_inputs
from cli.stores import setup_all
from pipelines.instance import child_env
from tx.errors import ConfigError
from tx.processes import RUN_WORKERS, Server, bentoml_server, dagster_server, mlflow_server, port_in_use, stop_all, wait_ready
from tx.settings import Settings

AUTOMATION = """schedules and sensors now run on their own (README, Pipeline): the universe sensor and the
  champion sensor every minute, the intraday scan every 5 minutes, online learning on TX_ONLINE_CRON,
  the daily scan, base rates and refreshes after the US close, news, drift, alerts, retraining and the
  nightly backtests on their TX_*_CRON settings."""


def servers(settings: Settings) -> list[Server]:
    logs = settings.home / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    host = settings.host
    mlflow = [] if settings.tracking_is_server else [  # a tracking server of its own (docs/SCALING.md) is not started here
        mlflow_server(settings.tracking_uri, settings.mlflow_artifacts, host, settings.mlflow_port, logs / "mlflow.log")]
    return [
        dagster_server(child_env(settings), host, settings.dagster_port, logs / "dagster.log"),
        *mlflow,
        bentoml_server(host, settings.serving_port, logs / "bentoml.log", workers=settings.serve_workers or RUN_WORKERS),
    ]


def _say(line: str) -> None:
    print(line, flush=True)


def _try_it(settings: Settings) -> None:
    from cli.showcase import try_it

    _say(try_it(settings))


def run_platform(settings: Settings, skip_pipeline: bool = False, showcase: bool = False) -> int:
    for setting, port in (("TX_DAGSTER_PORT", settings.dagster_port), ("TX_MLFLOW_PORT", settings.mlflow_port), ("TX_SERVING_PORT", settings.serving_port)):
        if port_in_use(settings.host, port):
            raise ConfigError(setting, f"port {port} on {settings.host} is already in use; stop what holds it or choose another port")
    _, universe = check_inputs(settings)
    for store in setup_all(settings):
        _say(f"store ready: {store.name:<12} {store.location}  ({store.detail})")
    if not skip_pipeline:  # before the daemon starts: its sensors wait for the pipeline launched below
        from pipelines import bootstrap
        from pipelines.instance import instance

        bootstrap.beat(instance(settings))

    stop = threading.Event()

    def interrupt(*_: object) -> None:
        # SIGTERM stops the platform the way Ctrl-C does. The flag as well as the exception:
        # a library's bare `except:` (an import fallback, say) can swallow the exception.
        stop.set()
        raise KeyboardInterrupt

    # Explicit for SIGINT too: a shell starting us in the background would have it ignored.
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    procs = servers(settings)
    try:
        for server in procs:
            server.start()
        _say("starting the Dagster UI, the MLflow UI and the BentoML service ...")
        wait_ready(procs)
        _say("\nTX is running:")
        for server in procs:
            _say(f"  {server.name:<16} {server.ui_url}")
        if settings.tracking_is_server:
            _say(f"  {'MLflow UI':<16} {settings.tracking_uri}  (MLFLOW_TRACKING_URI: a server of its own)")
        _say(f"logs in {settings.home / 'logs'}; press Ctrl-C to stop all three.\n")
        if showcase and skip_pipeline:
            _try_it(settings)
        follow = None if skip_pipeline else PipelineFollower(settings, universe, procs[0].ui_url)
        while not stop.is_set():
            time.sleep(1)
            dead = [s for s in procs if not s.running()]
            if dead:
                _say(f"{dead[0].name} exited (code {dead[0].proc.returncode}); see {dead[0].log}. Stopping.")
                return 1
            if follow is not None and follow.step():
                follow = None
                if showcase:
                    _try_it(settings)
        return 0
    except KeyboardInterrupt:
        return 0
    finally:
        # A second Ctrl-C (or SIGTERM) must not abort the shutdown half-way and orphan a
        # server: ignore both while stopping; stop_all escalates to SIGKILL on its own.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        _say("stopping ...")
        stop_all(procs)
        _say("stopped.")


class PipelineFollower:
    """Launches the default pipeline through the Dagster webserver and prints a line per
    finished run: its figures, the gate's decision, or why it failed and where to look."""

    def __init__(self, settings: Settings, universe: list, dagster_url: str) -> None:
        from pipelines.instance import instance  # Dagster loads only when the pipeline runs
        from pipelines.launch import Launcher

        self.url = dagster_url.rstrip("/")
        self.launcher = Launcher(settings, instance(settings), universe)
        self.count = 0
        _say(f"launching the default pipeline as Dagster runs; watch them at {self.url}/runs")

    def step(self) -> bool:
        """One round; True once the pipeline is over (done or stopped by a failure)."""
        from cli.demo import asset_lines
        from pipelines.status import OrchestratorUnavailable

        try:
            finished = self.launcher.step()
        except OrchestratorUnavailable as exc:
            _say(f"waiting for the Dagster webserver to take runs: {exc}")
            return False
        for run in finished:
            self.count += 1
            took = f"{run.seconds:.0f} s" if run.seconds is not None else "?"
            if run.ok:
                _say(f"[{self.count}/{self.launcher.total}] done   {run.phase.what}: {run.result.scope} in {took} ({run.job}, run {run.result.run_id[:8]})")
                for line in asset_lines(run.result):
                    _say(line)
            else:
                _say(f"[{self.count}/{self.launcher.total}] {run.status.lower()} {run.phase.what}: {run.result.scope} after {took}: {run.reason}")
                _say(f"  see {self.url}/runs/{run.result.run_id}")
        if not self.launcher.done:
            return False
        minutes = (time.monotonic() - self.launcher.started) / 60
        if self.launcher.failed:
            _say(f"\nthe pipeline stopped after {minutes:.1f} min at a failed run; the UIs stay up. Fix it and relaunch "
                 f"the job from the Dagster UI, or restart `make run`.")
        else:
            _say(f"\nthe pipeline is done: {self.launcher.total} runs in {minutes:.1f} min.")
        _say(AUTOMATION)
        return True
