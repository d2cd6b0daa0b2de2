"""Whale execution: decision rules, risk limits, orders, fills,
positions, reconciliation and the trading switches. Tasks, commands and the
admin call the services here; see services.py for the flow of one whale."""
