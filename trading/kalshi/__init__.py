"""Kalshi's Trade API v2 wire protocol (docs/kalshi/PROTOCOL.md): signing,
typed messages, the WebSocket client and the REST client."""
