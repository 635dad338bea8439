"""Dagster assets and asset checks, one module per stage; thin over the domain packages."""
