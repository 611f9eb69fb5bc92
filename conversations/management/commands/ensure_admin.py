import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the local admin login and a demo help-desk agent (Agents group, inbox only) if missing, and print "
        "both (the passwords are kept in var/admin-password and var/agent-password)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")
        parser.add_argument("--agent", default="agent", help="username of the demo agent ('' for none)")

    def handle(self, *args, username, agent, **options):
        self.ensure(username, "admin-password", "Admin login", superuser=True)
        if agent:
            self.ensure(agent, "agent-password", "Agent login (inbox at /inbox/)", superuser=False)

    def ensure(self, username: str, file_name: str, title: str, *, superuser: bool) -> None:
        password_file = settings.VAR_DIR / file_name
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            if superuser:
                User.objects.create_superuser(username=username, email=f"{username}@localhost", password=password)
            else:
                user = User.objects.create_user(username=username, email=f"{username}@localhost", password=password)
                user.groups.add(Group.objects.get(name="Agents"))
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        else:
            password = password_file.read_text().strip() if password_file.exists() else ""
            if not password or not user.check_password(password):
                # Someone changed it since: never reset a password behind their back.
                self.stdout.write(
                    f"{title}: {username} (the password was changed since it was made; "
                    f"reset it with: manage.py changepassword {username})"
                )
                return
        self.stdout.write(self.style.SUCCESS(f"{title}: {username} / {password}"))
