"""What every asset is given: resources, partitions, the Parquet IO manager and run tags.

A leaf under the assets: it imports no asset and no job, so assets and pipelines both
import from here and nothing doubles back.
"""
