import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = "Create the local admin login if missing and print it (the password is kept in var/admin-password)."

    def add_arguments(self, parser):
        parser.add_argument("--username", default="admin")

    def handle(self, *args, username, **options):
        password_file = settings.VAR_DIR / "admin-password"
        User = get_user_model()
        user = User.objects.filter(username=username).first()
        if user is None:
            password = secrets.token_urlsafe(12)
            User.objects.create_superuser(username=username, email=f"{username}@localhost", password=password)
            password_file.parent.mkdir(parents=True, exist_ok=True)
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        else:
            password = password_file.read_text().strip() if password_file.exists() else ""
            if not password or not user.check_password(password):
                # Someone changed it since: never reset a password behind their back.
                self.stdout.write(
                    f"Admin login: {username} (the password was changed since it was made; "
                    f"reset it with: manage.py changepassword {username})"
                )
                return
        self.stdout.write(self.style.SUCCESS(f"Admin login: {username} / {password}"))
