"""``manage.py trading pause|resume|kill|status``: the trading switches from a shell."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from trading.execution import control


class Command(BaseCommand):
    help = "Pause, resume or kill trading (kill cancels every open order), or show its status."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["pause", "resume", "kill", "status"])

    def handle(self, *args: object, action: str, **options: Any) -> None:
        if action == "pause":
            control.pause(user="manage.py")
            self.stdout.write("Trading paused: no new orders; open orders stay.")
        elif action == "resume":
            control.resume(user="manage.py")
            self.stdout.write("Trading resumed.")
        elif action == "kill":
            result = control.kill(user="manage.py")
            self.stdout.write(f"Kill switch on: {len(result.canceled)} orders canceled.")
            if result.failed:
                self.stderr.write(f"Not canceled (reconciliation will retry): {', '.join(result.failed)}")
        else:
            self.stdout.write(json.dumps(control.status(), indent=2))
