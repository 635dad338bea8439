"""The Dagster `Definitions` of TX, loaded by workspace.yaml (`pipelines.definitions`).

Built from one Settings object: resources, jobs (with the settings' run config), schedules
and sensors all take its values here, so a Dagster process reads the settings once, when it
loads `defs`. Every Dagster process that loads them (code server, run workers) sets up
logging and, with a DSN, Sentry first (tx/observability.py).
"""

import dagster as dg

from pipelines.automation import schedules, sensors
from pipelines.jobs import ALL_ASSETS, build_jobs
from pipelines.observability import failure_sensors
from pipelines.workers import executor
from resources.feeds import MarketData, NewsFeeds
from resources.frames import ParquetFrames
from resources.paper import PaperAccount
from resources.stores import AppDatabase, MlflowTracking
from tx import observability
from tx.settings import Settings, load_settings


def resources(settings: Settings) -> dict[str, object]:
    return {
        "app_db": AppDatabase(url=settings.app_database_url),
        "market": MarketData(settings.market_config(), overlap_bars=settings.overlap_bars, max_gap_bars=settings.max_gap_bars,
                             stale_bars=settings.stale_bars),
        "frames": ParquetFrames(base_path=settings.frames_location),
        "news_feeds": NewsFeeds(settings.news_config(), settings.market_config(), data_dir=settings.data_dir,
                                lookback_days=settings.news_lookback_days),
        "mlflow_tracking": MlflowTracking(tracking_uri=settings.tracking_uri, artifact_root=settings.mlflow_artifacts,
                                          threshold=settings.promotion_threshold, ui_url=f"http://{settings.host}:{settings.mlflow_port}",
                                          optuna_storage=settings.optuna_storage or ""),
        "paper": PaperAccount(paper_cash=settings.paper_cash, paper_commission_bps=settings.paper_commission_bps,
                              paper_min_fee=settings.paper_min_fee, paper_slippage_bps=settings.paper_slippage_bps,
                              paper_max_leverage=settings.paper_max_leverage, paper_allow_short=settings.paper_allow_short),
    }


def build_definitions(settings: Settings) -> dg.Definitions:
    jobs = build_jobs(settings)
    return dg.Definitions(
        assets=ALL_ASSETS,
        jobs=jobs.all(),
        schedules=schedules(settings, jobs),
        sensors=[*sensors(settings, jobs), *failure_sensors(settings)],
        resources=resources(settings),
        executor=executor(settings),  # TX_EXECUTOR: in_process (the default), multiprocess or celery
    )


defs = build_definitions(observability.setup("dagster", load_settings()))
