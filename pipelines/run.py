"""Materialize the whole default pipeline in-process, recorded in the Dagster instance.

`make demo`, `make run` and the end-to-end test all go through `materialize_pipeline`,
so what they run is the same; runs show up in the Dagster UI like any other.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import dagster as dg

from market.universe import Series
from pipelines.definitions import build_definitions, series_pipeline
from pipelines.partitions import partition_key, sync_symbols
from tx.errors import TxError
from tx.settings import Settings


class PipelineError(TxError):
    """A materialization failed; the message carries Dagster's reason and the run id."""


@dataclass
class Materialized:
    series: Series
    run_id: str
    assets: dict[str, dict[str, Any]] = field(default_factory=dict)  # asset -> metadata values


def _values(metadata: dict[str, dg.MetadataValue]) -> dict[str, Any]:
    return {k: getattr(v, "value", v) for k, v in metadata.items()}


def materialize_pipeline(
    settings: Settings,
    instance: dg.DagsterInstance,
    universe: list[Series],
    progress: Callable[[str], None] = print,
) -> list[Materialized]:
    sync_symbols(instance, universe)
    job = build_definitions(settings).resolve_job_def(series_pipeline.name)
    done: list[Materialized] = []
    for i, series in enumerate(universe, 1):
        progress(f"[{i}/{len(universe)}] materializing {series} ...")
        result = job.execute_in_process(
            partition_key=partition_key(series),
            instance=instance,
            tags={"tx/launched_by": "tx"},
            run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
            raise_on_error=False,
        )
        if not result.success:
            failure = next((e for e in result.all_events if e.is_step_failure), None)
            reason = failure.step_failure_data.error.message.strip() if failure and failure.step_failure_data.error else "see the run in Dagster"
            raise PipelineError(f"{series}: {reason} (Dagster run {result.run_id})")
        entry = Materialized(series, result.run_id)
        for event in result.get_asset_materialization_events():
            mat = event.materialization
            entry.assets[mat.asset_key.to_user_string()] = _values(mat.metadata)
        done.append(entry)
    return done
