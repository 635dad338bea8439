"""The pattern catalogue: names, keys and the directions each pattern signalled on a sample."""

import numpy as np

from features.patterns import PATTERNS, PatternInfo, catalogue, display_name, pattern_key, raw_patterns
from market.files import bundled_candles
from market.synthetic import generate


def test_every_pattern_is_named_and_keyed():
    listed = catalogue(bundled_candles)
    assert [p.pattern for p in listed] == list(PATTERNS) and len(listed) == 61
    engulfing = next(p for p in listed if p.pattern == "CDLENGULFING")
    assert engulfing == PatternInfo("CDLENGULFING", "engulfing", "Engulfing Pattern", "both")
    assert pattern_key("CDLDOJI") == "doji" and display_name("CDLDOJI") == "Doji"


def test_directions_are_those_seen_on_the_sample():
    frames = [generate("ACME", "1d", 400, seed=1), generate("ACME", "1h", 300, seed=2)]

    def sample():
        return iter(frames)

    listed = catalogue(sample)
    raw = np.concatenate([raw_patterns(f) for f in frames], axis=1)
    for k, info in enumerate(listed):
        seen = set(np.sign(raw[k][raw[k] != 0]).tolist())
        assert info.direction == {frozenset({1, -1}): "both", frozenset({1}): "bullish", frozenset({-1}): "bearish"}.get(frozenset(seen), "not seen")
    assert {p.direction for p in listed} >= {"both", "not seen"}


def test_the_catalogue_is_computed_once_per_sample():
    calls = []

    def sample():
        calls.append(1)
        return iter([generate("ACME", "1d", 120, seed=3)])

    assert catalogue(sample) is catalogue(sample) and len(calls) == 1
