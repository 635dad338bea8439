"""What `make demo` and `make run` share: check the inputs, set up the stores, run the pipeline."""

from collections.abc import Callable
from dataclasses import dataclass

from market.chain import ProviderChain
from market.files import DataFolderError, FileProvider
from market.frames import CandleFormatError
from market.quality import validated
from market.universe import Series, UniverseError
from tx.errors import ConfigError
from tx.settings import Settings
from cli.stores import StoreStatus, setup_all


def check_inputs(settings: Settings) -> tuple[ProviderChain, list[Series]]:
    """The provider chain and the universe, with every local file in it read and checked
    before anything is written."""
    try:
        chain = ProviderChain.from_config(settings.market_config())
    except DataFolderError as exc:
        raise ConfigError("TX_DATA_DIR", str(exc)) from None
    try:
        universe = chain.universe(settings.universe)
    except UniverseError as exc:
        raise ConfigError("TX_UNIVERSE", str(exc)) from None
    for provider in chain.providers:
        if not isinstance(provider, FileProvider):
            continue
        for series in universe:
            if (path := provider.path(series)) is not None:
                try:
                    validated(provider.read(series), str(path))
                except CandleFormatError as exc:
                    raise ConfigError("TX_DATA_DIR" if provider.name == "local" else "bundled data", str(exc)) from None
    return chain, universe


@dataclass
class PipelineReport:
    stores: list[StoreStatus]
    universe: list[Series]
    materialized: list  # pipelines.run.Materialized


def run_pipeline(settings: Settings, progress: Callable[[str], None] = print) -> PipelineReport:
    _, universe = check_inputs(settings)
    progress(f"universe: {', '.join(map(str, universe))}")
    stores = setup_all(settings)
    for store in stores:
        progress(f"store ready: {store.name:<12} {store.location}  ({store.detail})")

    from pipelines.instance import instance  # Dagster loads only when the pipeline runs
    from pipelines.run import materialize_pipeline

    materialized = materialize_pipeline(settings, instance(settings), universe, progress)
    return PipelineReport(stores, universe, materialized)
