"""Provider health as the service reads it: the latest state, the last error kept until a new one."""

from datetime import UTC, datetime

from market.chain import ProviderHealth
from store.provider_status import load_provider_status, record_provider_health


def test_latest_state_wins_and_the_last_error_is_kept(engine):
    failed = datetime(2026, 11, 1, tzinfo=UTC)
    assert record_provider_health(engine, [ProviderHealth("polygon", state="open", calls=5, failures=5, last_error="HTTP 503",
                                                          last_error_at=failed), ProviderHealth("finnhub")]) == 1  # never called: not written
    recovered = datetime(2026, 11, 2, tzinfo=UTC)
    record_provider_health(engine, [ProviderHealth("polygon", state="closed", calls=1, last_success_at=recovered, last_latency_s=0.25)])
    row = load_provider_status(engine).set_index("provider").loc["polygon"]
    assert (row["state"], row["calls"], row["failures"]) == ("closed", 1, 0)
    assert row["last_error"] == "HTTP 503" and row["last_error_at"] == failed and row["last_success_at"] == recovered
    assert row["last_latency_ms"] == 250.0
