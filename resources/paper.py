"""The paper account as a Dagster resource: its costs and rules (TX_PAPER_*) as values."""

import dagster as dg
from sqlalchemy import Engine

from trading.broker import PaperBroker, paper_broker


class PaperAccount(dg.ConfigurableResource):
    """The platform's paper account: the candles step fills its resting limit orders as new bars arrive."""

    paper_cash: float = 100_000.0
    paper_commission_bps: float = 1.0
    paper_min_fee: float = 0.0
    paper_slippage_bps: float = 2.0
    paper_max_leverage: float = 1.0
    paper_allow_short: bool = True

    def broker(self, engine: Engine) -> PaperBroker:
        return paper_broker(engine, self)  # the fields carry the names of the settings it reads
