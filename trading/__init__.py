"""The trading domain: Kalshi protocol, order books, whales, decisions, risk and
execution. No HTTP and no templates here; see docs/architecture.md."""
