"""Trading: signals, risk and position sizing, the paper broker and ledger, alerts, backtests."""
