"""Fault injection state shared by the REST and WebSocket sides (set from SimConfig
flags at start-up and by ``POST /sim/control`` at run time)."""

from dataclasses import dataclass, field, fields

# Cut off mid-object: not JSON, so a client must count it and carry on.
MALFORMED = b'{"type":"orderbook_delta","sid":1,"seq":'


@dataclass
class Faults:
    delay_ms: int = 0  # hold every outgoing WebSocket frame this long
    order_delay_ms: int = 0  # hold every order creation this long before the exchange takes it
    gap_every: int = 0  # skip one seq number every N sequenced messages of a subscription
    malformed_every: int = 0  # a malformed frame after every N data frames of a connection
    drop_every_s: float = 0.0  # drop every WebSocket connection every S seconds
    reject_every: int = 0  # answer every Nth REST request with 429
    reject_next: int = 0  # answer the next N REST requests with reject_status
    reject_status: int = 429
    reject_ws_next: int = 0  # refuse the next N WebSocket handshakes with 429
    skip_next: set[str] = field(default_factory=set)  # channels whose next sequenced message skips a seq
    rest_requests: int = 0

    def clear(self) -> None:
        """Back to no faults, in place (connections hold this object)."""
        for f in fields(self):
            setattr(self, f.name, f.default_factory() if callable(f.default_factory) else f.default)
