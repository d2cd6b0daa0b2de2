"""Kalshi's Trade API v2 wire protocol (../shared/kalshi/PROTOCOL.md): signing,
typed messages, the WebSocket client and the REST client."""
