"""``manage.py reconcile``: compare local orders, positions and balance with the exchange and fix them."""

import json
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from trading.execution import reconciliation


class Command(BaseCommand):
    help = "Reconcile local orders, fills, positions and balance with the exchange (the exchange wins)."

    def handle(self, *args: object, **options: Any) -> None:
        report = reconciliation.reconcile()
        if report.skipped:
            raise CommandError("Another reconciliation is running; try again when it is done.")
        for change in report.changes:
            self.stdout.write(json.dumps(change))
        self.stdout.write(f"{len(report.changes)} differences fixed.")
        if not report.ok:
            raise CommandError(f"Reconciliation stopped early: {report.error}")
