"""The retraining policy: when the served model's monitoring figures call for a new model.

Pure, beside the promotion gate (`training/promotion.py`): the drift report's figures and
the limits in, the reasons out. The Dagster sensor reads the figures off the `model_drift`
materialization and asks for a training run tagged with the reasons.
"""

from collections.abc import Mapping
from typing import Any

SHOWN_COLUMNS = 8  # drifted columns named in a reason


def retrain_reasons(figures: Mapping[str, Any], *, drift_share_max: float, live_auc_min: float, live_min_matured: int) -> list[str]:
    """Why the figures (drift_share, drifted_columns, live_auc, live_matured) call for
    retraining; empty: they do not. A live AUC counts only over `live_min_matured` judged
    predictions, and a NaN one (not measurable yet) never does."""
    share, matured, live_auc = figures.get("drift_share"), figures.get("live_matured") or 0, figures.get("live_auc")
    reasons = []
    if share is not None and share >= drift_share_max:
        drifted = figures.get("drifted_columns") or []
        reasons.append(f"feature drift: {share:.0%} of the features drifted (limit {drift_share_max:.0%}): "
                       f"{', '.join(drifted[:SHOWN_COLUMNS])}{' ...' if len(drifted) > SHOWN_COLUMNS else ''}")
    if live_auc is not None and live_auc == live_auc and matured >= live_min_matured and live_auc < live_auc_min:
        reasons.append(f"decay: live AUC {live_auc:.3f} < {live_auc_min} over {matured} matured predictions")
    return reasons
