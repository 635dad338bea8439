"""The retraining policy: drift and decay limits turn the drift report's figures into reasons."""

from training.retraining import retrain_reasons

LIMITS = {"drift_share_max": 0.5, "live_auc_min": 0.5, "live_min_matured": 50}


def test_within_limits_gives_no_reason():
    assert retrain_reasons({"drift_share": 0.2, "drifted_columns": ["rsi_14"], "live_auc": 0.6, "live_matured": 80}, **LIMITS) == []
    assert retrain_reasons({}, **LIMITS) == []  # nothing measured yet


def test_feature_drift_at_the_limit_names_the_drifted_columns():
    columns = [f"c{i}" for i in range(10)]
    reasons = retrain_reasons({"drift_share": 0.5, "drifted_columns": columns}, **LIMITS)
    assert reasons == ["feature drift: 50% of the features drifted (limit 50%): c0, c1, c2, c3, c4, c5, c6, c7 ..."]
    assert retrain_reasons({"drift_share": 0.6, "drifted_columns": ["a", "b"]}, **LIMITS) == [
        "feature drift: 60% of the features drifted (limit 50%): a, b"]


def test_decay_counts_only_over_enough_matured_predictions():
    assert retrain_reasons({"live_auc": 0.41, "live_matured": 60}, **LIMITS) == ["decay: live AUC 0.410 < 0.5 over 60 matured predictions"]
    assert retrain_reasons({"live_auc": 0.41, "live_matured": 49}, **LIMITS) == []
    assert retrain_reasons({"live_auc": float("nan"), "live_matured": 500}, **LIMITS) == []  # not measurable: no decay
    assert retrain_reasons({"live_auc": 0.41, "live_matured": None}, **LIMITS) == []


def test_drift_and_decay_together_give_both_reasons():
    reasons = retrain_reasons({"drift_share": 0.9, "drifted_columns": ["x"], "live_auc": 0.3, "live_matured": 100}, **LIMITS)
    assert [r.split(":")[0] for r in reasons] == ["feature drift", "decay"]
