"""While `make run` launches the first pipeline, schedules and sensors wait.

`tx run` writes a heartbeat into the Dagster instance's key-value store every few seconds
while its pipeline is in flight; every schedule and sensor skips while the heartbeat is
fresh, so nothing heavy competes with (or repeats) that first pipeline. A heartbeat, not a
flag: if `tx run` dies half-way, the automation resumes on its own five minutes later.
"""

import time

import dagster as dg

KEY = "tx/bootstrap_heartbeat"
FRESH_S = 300.0  # a heartbeat older than this is a `tx run` that is gone (its servers may take minutes to start)


def beat(instance: dg.DagsterInstance, now: float | None = None) -> None:
    instance.run_storage.set_cursor_values({KEY: str(time.time() if now is None else now)})


def end(instance: dg.DagsterInstance) -> None:
    instance.run_storage.set_cursor_values({KEY: "0"})


def waiting(instance: dg.DagsterInstance, now: float | None = None) -> dg.SkipReason | None:
    """A skip reason while the first pipeline runs; None otherwise."""
    value = instance.run_storage.get_cursor_values({KEY}).get(KEY)
    age = (time.time() if now is None else now) - float(value or 0)
    if age < FRESH_S:
        return dg.SkipReason("the first pipeline launched by `tx run` is still running; automation waits for it")
    return None
