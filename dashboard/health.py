"""Counters of this process's browser sockets, reported as one component of /api/status.

With one daphne per core (README) each process counts its own browsers, and
/api/status answers from whichever process took the request: the component names
its process so the numbers are not mistaken for the whole site's.

docs/architecture.md: bounds are never silent. A browser closed because it read too slowly
(4409), stopped answering pings (4408), lost its session (4401) or its control right
(4403), sent on past the command budget or was one socket too many (4429), and market
events replaced before a slow browser read them (added up as each socket closes), are
counted here, not only logged.
"""

import os
from dataclasses import asdict, dataclass

from trading.health import ComponentHealth, Criticality


@dataclass
class SocketStats:
    open: int = 0
    opened: int = 0
    closed_too_slow: int = 0
    closed_no_pong: int = 0
    market_superseded: int = 0
    commands_refused: int = 0
    # Closed because the session ended (4401) or the right to control trading went (4403).
    closed_session_ended: int = 0
    closed_rights_lost: int = 0
    # Closed for sending on past the command budget, and refused as one too many of a user's (4429).
    closed_abuse: int = 0
    refused_too_many: int = 0

    def health(self) -> ComponentHealth:
        """Always healthy: a slow browser is that browser's problem, and it resumes by itself."""
        detail = f"{self.open} open in web process {os.getpid()}"
        return ComponentHealth("browser_sockets", True, Criticality.NON_CRITICAL, detail, asdict(self))


stats = SocketStats()
