"""What a person sees: pages, login, and the WebSocket consumer."""
