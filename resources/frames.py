"""Parquet IO manager for analytical frames (features, labels, coverage, backtests).

A local folder by default; any fsspec URL (s3://...) works as `base_path` through UPath
(TX_FRAMES_URL): the run and every Celery worker that runs one of its steps must see the same.

A file is written under a temporary name beside its final one and renamed into place, so a
process killed mid-write (a worker lost mid-step) leaves the previous frame or none, never a
half-written one. A step over a range of series (a single-run backfill) outputs a dict keyed
by partition key: one file per series, as its own run would have written it.
"""

import uuid

import dagster as dg
import pandas as pd
from upath import UPath


class ParquetIOManager(dg.UPathIOManager):
    extension = ".parquet"

    def dump_to_path(self, context: dg.OutputContext, obj: pd.DataFrame, path: UPath) -> None:
        if not isinstance(obj, pd.DataFrame):
            raise TypeError(f"{context.asset_key.to_user_string()}: the Parquet IO manager stores DataFrames, got {type(obj).__name__}")
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.partial")
        try:
            with partial.open("wb") as fh:
                obj.to_parquet(fh)
            partial.rename(path)
        finally:
            if partial.exists():
                partial.unlink()

    def handle_output(self, context: dg.OutputContext, obj) -> None:
        keys = context.asset_partition_keys if context.has_asset_partitions else []
        if len(keys) <= 1:
            return super().handle_output(context, obj)
        if not isinstance(obj, dict) or set(obj) != set(keys):
            raise TypeError(f"{context.asset_key.to_user_string()}: a step over {len(keys)} partitions outputs a dict keyed by "
                            f"partition key, got {type(obj).__name__}")
        paths = self._get_paths_for_partitions(context)
        for key in keys:
            self.dump_to_path(context, obj[key], paths[key])
        context.add_output_metadata({"path": dg.MetadataValue.path(str(paths[keys[0]].parent.parent))})

    def load_from_path(self, context: dg.InputContext, path: UPath) -> pd.DataFrame:
        if not path.exists():
            name = context.upstream_output.asset_key.to_user_string() if context.upstream_output else str(path)
            raise FileNotFoundError(f"{name} has not been materialized yet (no {path}); materialize it first (`make demo` does)")
        with path.open("rb") as fh:
            return pd.read_parquet(fh)

    def load_partitions(self, context: dg.InputContext):
        """An input of every series (`resources.partitions.ALL_PARTITIONS`) is a dict keyed by
        series even when the universe has one: Dagster's default hands a single partition over
        bare, which would make a one-series universe a special case downstream."""
        keys = context.asset_partition_keys
        if len(keys) == 1 and context.definition_metadata.get("allow_missing_partitions"):
            loaded = self._load_partition_from_path(context, keys[0], self._get_paths_for_partitions(context)[keys[0]])
            return {} if loaded is None else {keys[0]: loaded}
        return super().load_partitions(context)

    def get_path_for_partition(self, context: dg.InputContext | dg.OutputContext, path: UPath, partition: str) -> UPath:
        """A series' frame at <asset>/<SYMBOL>/<TIMEFRAME>.parquet: "SYMBOL|TIMEFRAME" keys become
        folders, the layout the symbol x timeframe multi-partitions had (frames stored before
        stay where they are; no "|" in a file name)."""
        return path.joinpath(*partition.split("|"))


class ParquetFrames(dg.ConfigurableIOManagerFactory):
    """Where analytical frames live (TX_HOME/frames by default)."""

    base_path: str

    def create_io_manager(self, context: dg.InitResourceContext) -> ParquetIOManager:
        return ParquetIOManager(base_path=UPath(self.base_path))
