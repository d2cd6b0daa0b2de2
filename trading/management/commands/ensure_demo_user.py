"""Create the demo's staff login once; its password is generated and kept in the data folder."""

from django.core.management.base import BaseCommand

from trading.accounts import ensure_demo_user


class Command(BaseCommand):
    help = "Create (idempotently) the demo staff user and print where its password is kept."

    def handle(self, *args, **options) -> None:
        result = ensure_demo_user()
        verb = "Created" if result.created else "Kept"
        self.stdout.write(f"{verb} demo user '{result.username}'; password in {result.password_file}")
