"""Create the demo's staff login once; its first password is generated and kept in the data folder."""

from django.core.management.base import BaseCommand

from trading.accounts import ensure_demo_user


class Command(BaseCommand):
    help = "Create (idempotently) the demo staff user and print where its password is kept."

    def handle(self, *args, **options) -> None:
        result = ensure_demo_user()
        if result.created:
            self.stdout.write(f"Created demo user '{result.username}'; password in {result.password_file}")
        else:
            self.stdout.write(
                f"Kept demo user '{result.username}' and its password (first set from {result.password_file})"
            )
