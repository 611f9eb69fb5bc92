"""Every store starts with the zero-party attributes our research found stores ask for."""

import json
from pathlib import Path

from django.db import migrations

DEFAULTS = Path(__file__).resolve().parent.parent / "fixtures" / "attributes.json"


def add_default_attributes(apps, schema_editor):
    AttributeDefinition = apps.get_model("conversations", "AttributeDefinition")
    for item in json.loads(DEFAULTS.read_text()):
        AttributeDefinition.objects.get_or_create(
            key=item["key"],
            defaults={"label": item["label"], "type": item["type"], "options": item["options"]},
        )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]

    operations = [migrations.RunPython(add_default_attributes, migrations.RunPython.noop)]
