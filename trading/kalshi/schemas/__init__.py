"""Kalshi's wire schemas: the REST bodies (``rest``); the WebSocket messages are trading.kalshi.messages."""
