"""Dagster definitions: jobs, schedules, sensors, resources, partitions."""
