"""What a production server checks when it starts (config.wsgi, config.asgi), where no system check runs."""

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles import finders
from django.contrib.staticfiles.storage import ManifestFilesMixin, staticfiles_storage
from django.core.exceptions import ImproperlyConfigured


def static_files_missing() -> list[str]:
    """Static files the manifest storage does not know: `collectstatic` was not run, or not since they were added.

    With the manifest storage (prod), `{% static %}` raises for such a file, and every page that names it answers 500.
    """
    if not isinstance(staticfiles_storage, ManifestFilesMixin):
        return []
    known = staticfiles_storage.hashed_files  # read from the manifest in STATIC_ROOT; empty without one
    ignore = apps.get_app_config("staticfiles").ignore_patterns
    found = {path for finder in finders.get_finders() for path, _storage in finder.list(ignore)}
    return sorted(path for path in found if staticfiles_storage.hash_key(path.replace("\\", "/")) not in known)


def require_collected_static() -> None:
    """Refuse to start, saying what to run, rather than answer 500 on every page."""
    missing = static_files_missing()
    if missing:
        raise ImproperlyConfigured(
            f"{len(missing)} static files are not collected (e.g. {missing[0]}): run `manage.py collectstatic "
            f"--noinput` with the same settings before starting Parley (it fills STATIC_ROOT, {settings.STATIC_ROOT})."
        )
