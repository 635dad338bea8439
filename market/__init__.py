"""Market data: providers, the bundled real sample, the universe.

Every provider returns candles in one normal form (see `market.frames`).
"""
