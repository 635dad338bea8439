"""`make demo`'s wall time, per phase: `tx demo` on throw-away stores, then each Dagster run's
start and end from the instance it wrote to.

Run:  .venv/bin/python bench/bench_demo.py [--planted] [--env KEY=VALUE ...]
`--planted` is the README's planted-signal demo (the showcase's settings). Prints a Markdown
table for docs/BENCHMARKS.md: start-up (until the first run starts), each phase (its runs'
summed wall time), the serving check and summary after the last run, and the whole command.
Measure with nothing else running: the machine's load is printed.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--planted", action="store_true", help="the planted-signal demo (SYNA/SYNB/SYNC, signal 0.4, horizon 2)")
    p.add_argument("--env", nargs="*", default=[], metavar="KEY=VALUE", help="settings to add (a budget, say)")
    args = p.parse_args()
    home = Path(tempfile.mkdtemp(prefix="tx-bench-demo-"))
    env = {**os.environ, "TX_ENV_FILE": str(home / "no.env"), "TX_HOME": str(home / "tx"),
           "MLFLOW_TRACKING_URI": f"sqlite:///{home}/mlflow.db", "TX_MLFLOW_ARTIFACTS": str(home / "artifacts")}
    if args.planted:
        from cli.showcase import PLANTED

        env.update(PLANTED)
    env.update(kv.split("=", 1) for kv in args.env)
    start = time.time()
    done = subprocess.run([str(Path(sys.executable).parent / "tx"), "demo"], cwd=ROOT, env=env, capture_output=True, text=True)
    end = time.time()
    if done.returncode != 0:
        sys.exit(f"tx demo failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    gate = [line.strip() for line in done.stdout.splitlines() if "gate: " in line]

    os.environ.update({k: v for k, v in env.items() if k.startswith(("TX_", "MLFLOW_"))})
    import dagster as dg

    from pipelines.instance import instance
    from tx.settings import load_settings

    records = instance(load_settings()).get_run_records(dg.RunsFilter(statuses=[dg.DagsterRunStatus.SUCCESS]))
    phases: dict[str, float] = defaultdict(float)
    runs: dict[str, int] = defaultdict(int)
    for r in records:
        phases[r.dagster_run.job_name] += r.end_time - r.start_time
        runs[r.dagster_run.job_name] += 1
    first, last = min(r.start_time for r in records), max(r.end_time for r in records)
    load = os.getloadavg()
    print(f"`tx demo` {'planted' if args.planted else 'bundled'} {' '.join(args.env)}; load average at the end "
          f"{load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")
    for line in gate:
        print(f"  {line}")
    print("\n| phase | runs | seconds |\n|---|---:|---:|")
    print(f"| start-up (imports, stores) | | {first - start:.1f} |")
    for job in sorted(phases, key=lambda j: min(r.start_time for r in records if r.dagster_run.job_name == j)):
        print(f"| {job} | {runs[job]} | {phases[job]:.1f} |")
    print(f"| between runs (Dagster's run set-up) | | {(last - first) - sum(phases.values()):.1f} |")
    print(f"| serving check and summary | | {end - last:.1f} |")
    print(f"| **whole command** | | **{end - start:.1f}** |")


if __name__ == "__main__":
    main()
