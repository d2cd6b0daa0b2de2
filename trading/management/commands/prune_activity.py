"""``manage.py prune_activity``: delete replay events older than the retention (trading.retention)."""

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from trading import retention


class Command(BaseCommand):
    help = (
        "Delete the browsers' replay events (ActivityEvent) older than --keep seconds, "
        "keeping the newest of each type. Whales, decisions, orders and fills are never touched."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--keep",
            type=float,
            default=settings.RETENTION.activity_retention,
            help="seconds to keep (ACTIVITY_RETENTION)",
        )

    def handle(self, *args: object, keep: float, **options: Any) -> None:
        if keep < 0:
            raise CommandError("--keep must be zero or more seconds")
        self.stdout.write(f"{retention.prune_activity(keep_seconds=keep)} replay events deleted.")
