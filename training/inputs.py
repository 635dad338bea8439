"""What the model sees for a series: the one feature path of training and serving.

Training passes the feature frame the Dagster `features` asset stored; serving passes
nothing and the same `build_features` runs on the request's candles. Both then add the
point-in-time news sentiment and the deep layer's windows here.
"""

import numpy as np
import pandas as pd

from features import BaseRates, build_features
from features.sentiment import sentiment_features
from training.windows import WINDOW, windows

NO_NEWS = pd.DataFrame({"published_at": pd.DatetimeIndex([], tz="UTC"), "score": np.array([], dtype="float64")})


def model_inputs(candles: pd.DataFrame, timeframe: str, *, features: pd.DataFrame | None = None, base_rates: BaseRates | None = None,
                 news: pd.DataFrame | None = None, window: int = WINDOW) -> tuple[pd.DataFrame, np.ndarray]:
    """(feature frame with sentiment columns, windows) for every bar of `candles`."""
    X = features if features is not None else build_features(candles, timeframe, base_rates)
    X = pd.concat([X, sentiment_features(candles.index, timeframe, NO_NEWS if news is None else news)], axis=1)
    return X, windows(candles, X, window)
