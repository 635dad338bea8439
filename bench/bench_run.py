"""`make run`'s first minutes: seconds from `tx run` (installed) to each UI answering, then to
each finished run of the first pipeline, the gate's line and the end of the pipeline.

Run:  .venv/bin/python bench/bench_run.py [--universe GOOGL:1d,...] [--showcase] [--budget default|small] [--ui-only]
Starts `tx run` (or `tx showcase`) on throw-away stores and free ports, reads its terminal,
polls the three UIs, and stops it with Ctrl-C at the end. `--budget small` is the tests'
training budget (no tuning); default is the settings' own. Prints a Markdown table for
docs/BENCHMARKS.md. Measure with nothing else running: the machine's load is printed.
"""

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tx.processes import free_port  # noqa: E402

SMALL = {"TX_TRAIN_TUNE_TRIALS": "0", "TX_TRAIN_DEEP_TRIALS": "0", "TX_TRAIN_DEEP_EPOCHS": "1"}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--universe", default="")
    p.add_argument("--showcase", action="store_true")
    p.add_argument("--budget", choices=("default", "small"), default="default")
    p.add_argument("--timeout", type=float, default=1800)
    p.add_argument("--ui-only", action="store_true", help="stop once the three UIs answer")
    args = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tx-bench-run-"))
    ports = {"TX_DAGSTER_PORT": free_port(), "TX_MLFLOW_PORT": free_port(), "TX_SERVING_PORT": free_port()}
    env = {**os.environ, "TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db", "TX_MLFLOW_ARTIFACTS": str(home / "artifacts"),
           **{k: str(v) for k, v in ports.items()}, **(SMALL if args.budget == "small" else {})}
    if args.universe:
        env["TX_UNIVERSE"] = args.universe
    if args.showcase:  # the showcase's settings, with its stores in the temp home instead of .tx/showcase
        from cli import showcase

        env.update(showcase.showcase_env(home / "showcase"))
    command = [str(Path(sys.executable).parent / "tx"), "run"]
    marks: list[tuple[str, float]] = []
    start = time.monotonic()
    proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    urls = {"Dagster UI": f"http://127.0.0.1:{ports['TX_DAGSTER_PORT']}/server_info",
            "MLflow UI": f"http://127.0.0.1:{ports['TX_MLFLOW_PORT']}/health",
            "BentoML service": f"http://127.0.0.1:{ports['TX_SERVING_PORT']}/health"}

    def poll() -> None:
        waiting = dict(urls)
        while waiting and proc.poll() is None:
            for name, url in list(waiting.items()):
                try:
                    if httpx.get(url, timeout=1).status_code == 200:
                        marks.append((f"{name} answers", time.monotonic() - start))
                        del waiting[name]
                except httpx.HTTPError:
                    pass
            time.sleep(0.2)

    threading.Thread(target=poll, daemon=True).start()
    try:
        for line in proc.stdout:
            took = time.monotonic() - start
            if line.startswith("TX is running"):
                marks.append(("`TX is running` printed", took))
                if args.ui_only:
                    time.sleep(1)
                    break
            elif line.startswith("[") and "] " in line:
                marks.append((line.split(" (", 1)[0].strip(), took))
            elif "gate: " in line:
                marks.append((line.strip()[:110], took))
            elif line.startswith("the pipeline "):
                marks.append((line.strip().split(";")[0], took))
                break
            if took > args.timeout:
                break
    finally:
        proc.send_signal(signal.SIGINT)  # what Ctrl-C does to `tx run`; it stops its servers itself
        proc.wait(timeout=120)
    load = os.getloadavg()
    print(f"`tx {'showcase' if args.showcase else 'run'}` universe={args.universe or 'default'} budget={args.budget}; "
          f"load average at the end {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}\n")
    print("| moment | seconds from start |\n|---|---:|")
    for name, took in sorted(marks, key=lambda m: m[1]):
        print(f"| {name} | {took:.1f} |")


if __name__ == "__main__":
    main()
