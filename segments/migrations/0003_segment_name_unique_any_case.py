import django.db.models.functions.text
from django.conf import settings
from django.db import migrations, models


def rename_names_taken_in_another_case(apps, schema_editor):
    """Before the constraint: a name already used in another case ("VIP", "vip") gets " (2)", " (3)"… added."""
    Segment = apps.get_model("segments", "Segment")
    taken = set()
    for segment in Segment.objects.order_by("id"):
        name, number = segment.name, 2
        while name.lower() in taken:
            suffix = f" ({number})"
            name, number = segment.name[: 100 - len(suffix)] + suffix, number + 1
        taken.add(name.lower())
        if name != segment.name:
            Segment.objects.filter(pk=segment.pk).update(name=name)


class Migration(migrations.Migration):
    dependencies = [
        ("segments", "0002_attributes_gin_index"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RunPython(rename_names_taken_in_another_case, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="segment",
            constraint=models.UniqueConstraint(
                django.db.models.functions.text.Lower("name"), name="segment_unique_name_any_case"
            ),
        ),
    ]
