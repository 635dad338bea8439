"""Features: indicators, candlestick patterns, multi-timeframe joins, labels, sentiment scores.

Pure functions on candles in the normal form (see market.frames); point-in-time by construction.
"""
