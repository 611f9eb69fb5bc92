"""PostgreSQL: a GIN index on subscribers' attributes, which serves the segment compiler's `@>` and `?` tests.

SQLite has no such index type; there the migration does nothing.
"""

from django.db import migrations

INDEX = "conversations_subscriber_attributes_gin"


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"CREATE INDEX IF NOT EXISTS {INDEX} ON conversations_subscriber USING gin (attributes)")


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {INDEX}")


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0001_segment"),
        ("conversations", "0007_subscriber_place"),
    ]

    operations = [migrations.RunPython(create_index, drop_index)]
