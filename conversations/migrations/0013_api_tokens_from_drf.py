"""Existing DRF tokens (keys stored in clear in authtoken_token) become hashed API tokens, and the clear keys go.

Clients keep sending the same key: it now matches the copy's hash. `rest_framework.authtoken` is no longer
installed, so its table is read with SQL when an older database still has it; a new database has nothing to copy.
The admin's history named DRF tokens by their key, so those entries lose the name. Going back keeps the new tokens:
the keys cannot be recovered from their hashes.
"""

import datetime
import hashlib

from django.db import migrations

DRF_TABLE = "authtoken_token"
PREFIX_LENGTH = 8  # of the 40 hex digits of a DRF key: 128 bits stay secret


def _aware(value) -> datetime.datetime:
    if isinstance(value, str):  # SQLite, read with SQL
        value = datetime.datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=datetime.UTC)


def copy_drf_tokens(apps, schema_editor):
    """Each DRF token becomes an API token named "migrated DRF token" with the same key, then its row is deleted."""
    connection = schema_editor.connection
    if DRF_TABLE not in connection.introspection.table_names():
        return
    ApiToken = apps.get_model("conversations", "ApiToken")
    table = connection.ops.quote_name(DRF_TABLE)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {connection.ops.quote_name('key')}, created, user_id FROM {table}")
        rows = cursor.fetchall()
    ApiToken.objects.bulk_create(
        ApiToken(
            user_id=user_id,
            name="migrated DRF token",
            prefix=key[:PREFIX_LENGTH],
            key_hash=hashlib.sha256(key.encode()).hexdigest(),
            created_at=_aware(created),
        )
        for key, created, user_id in rows
    )
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {table}")
    ContentType = apps.get_model("contenttypes", "ContentType")
    LogEntry = apps.get_model("admin", "LogEntry")
    drf_types = ContentType.objects.filter(app_label="authtoken")
    LogEntry.objects.filter(content_type__in=drf_types).update(object_id=None, object_repr="DRF token (key removed)")


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0012_api_tokens"),
        ("admin", "0003_logentry_add_action_flag_choices"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(copy_drf_tokens, migrations.RunPython.noop)]
