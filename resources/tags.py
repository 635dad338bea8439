"""Tags on Dagster runs that the platform reads back (Dagster's own are `dagster/...`)."""

RETRAIN_REASON = "tx/retrain_reason"  # why a retraining run was asked for (the drift sensor sets it)
LAUNCHED_BY = "tx/launched_by"  # who launched a run outside the daemon ("tx": the command line, `make demo`)
BACKFILL = "tx/backfill"  # the `tx backfill` a run belongs to (its id); `tx/backfill_range`: which range of its series
