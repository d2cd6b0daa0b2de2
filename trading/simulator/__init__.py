"""A local exchange that speaks Kalshi's real Trade API v2 protocol (REST and
WebSocket), for the demo, development and tests."""
