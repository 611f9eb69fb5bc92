from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from conversations import services


class Command(BaseCommand):
    help = (
        "Create an API token for a user and print its key, alone on standard output, this once: Parley keeps only "
        "its hash. E.g. TOKEN=$(manage.py create_api_token admin --name 'Shopify sync')"
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="the user the token acts as, with their permissions")
        parser.add_argument("--name", default="command line", help="what will use it, shown in the admin's list")

    def handle(self, *args, username, name, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user is called {username!r}; create one in the admin or with createsuperuser")
        if not user.is_active:
            raise CommandError(f"{username} is inactive: a token of theirs would not be accepted")
        token, key = services.api_token_create(user=user, name=name)
        self.stderr.write(
            f"API token {token.name!r} ({token.prefix}…) for {username}. Copy the key now: it is not shown again. "
            "Send it as 'Authorization: Token <key>'; revoke it in the admin (API tokens)."
        )
        self.stdout.write(key)
