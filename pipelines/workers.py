"""Where a run's steps execute (TX_EXECUTOR), and the Celery workers of TX_EXECUTOR=celery.

One Celery configuration, built here from the settings, serves both sides: the run (dagster-
celery's `celery_executor` submits each step to TX_CELERY_QUEUE on TX_CELERY_BROKER and waits
for its events over TX_CELERY_BACKEND) and `tx worker` (dagster-celery's own worker app,
`dagster_celery.app`, reads it as the config module that `dagster-celery worker start` writes).

A step's message is acknowledged only once the step has ended (`task_acks_late`) and handed
back to the broker when its worker process dies (`task_reject_on_worker_lost`): a worker
killed mid-step (kill -9, a lost machine) does not lose the step, another worker runs it again.
"""

import os
import sys
from pathlib import Path

import dagster as dg
import yaml

from tx.settings import ROOT, Settings

# Celery settings of both sides (the executor's `config_source`, the worker's config module).
CELERY_OPTIONS = {
    "task_acks_late": True,  # a step's message stays on the broker until the step has ended
    "task_reject_on_worker_lost": True,  # ... and goes back to the queue when its worker dies
    "worker_prefetch_multiplier": 1,  # a worker holds one step at a time: the others go to idle workers
}


def celery_config(settings: Settings) -> dict:
    """The `celery_executor`'s config block, also the worker's (`execution: config:` in its yaml)."""
    return {
        "broker": settings.celery_broker,
        "backend": settings.celery_backend,
        "config_source": {**CELERY_OPTIONS, "task_default_queue": settings.celery_queue},
    }


# dagster-celery's run loop sleeps TICK_SECONDS (1 s) between its looks at the submitted steps:
# each step hand-over (a step ends, the next is submitted) waited up to a second for it
# (docs/BENCHMARKS.md, "Scale: the cost curve"). A look is a non-blocking check of the rpc://
# results already received: ten a second cost nothing measurable.
CELERY_TICK_S = 0.1


def executor(settings: Settings) -> dg.ExecutorDefinition:
    """The executor of every job, from TX_EXECUTOR."""
    if settings.executor == "celery":
        from dagster_celery import celery_executor, core_execution_loop  # only paid for when used: `make demo` needs no broker

        core_execution_loop.TICK_SECONDS = CELERY_TICK_S  # read at each sleep of the loop

        return celery_executor.configured(celery_config(settings), name="celery")
    if settings.executor == "multiprocess":
        return dg.multiprocess_executor
    # A run's steps in its own process: a subprocess per step would import the stack
    # (torch, pandas, TA-Lib) once per step, seconds each on a small machine.
    return dg.in_process_executor


def worker_argv(settings: Settings, workdir: Path, concurrency: int, queue: str | None, name: str | None) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of a dagster-celery worker (`tx worker`).

    What `dagster-celery worker start -A dagster_celery.app -y <yaml>` does, with the worker
    as the process itself rather than a child of it (so that signals reach it): dagster-celery
    writes the yaml's config as a `dagster_celery_config` module under DAGSTER_HOME (its own
    `get_config_dir`), and `dagster_celery.app` reads that module from the PYTHONPATH."""
    from dagster_celery.cli import get_config_dir

    workdir.mkdir(parents=True, exist_ok=True)
    config_yaml = workdir / "celery.yaml"
    config_yaml.write_text(yaml.safe_dump({"execution": {"config": celery_config(settings)}}))
    config_dir = get_config_dir(str(config_yaml))
    path = [p for p in (os.environ.get("PYTHONPATH", ""), config_dir, str(ROOT)) if p]  # ROOT: `-I pipelines.definitions`
    # `-I pipelines.definitions`: the worker imports the stack (Dagster, the assets, pandas, TA-Lib,
    # torch) once before it is ready and before it forks its pool, instead of each pool process
    # doing it inside its first step
    argv = [sys.executable, "-m", "celery", "-A", "dagster_celery.app", "worker", "-I", "pipelines.definitions", "--prefetch-multiplier=1",
            "--loglevel", settings.log_level, "-Q", queue or settings.celery_queue, "--concurrency", str(concurrency),
            "-n", f"{name or 'tx-' + str(os.getpid())}@%h"]
    return argv, {"PYTHONPATH": os.pathsep.join(path)}
