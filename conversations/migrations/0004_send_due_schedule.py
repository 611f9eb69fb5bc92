"""Every minute a worker sends what became due: held texts whose window opened, retries, reclaimed leases."""

from django.db import migrations


def add_schedule(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.update_or_create(
        name="send due texts",
        defaults={"func": "conversations.tasks.send_due", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def remove_schedule(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name="send due texts").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0003_outbox"),
        ("django_q", "0019_alter_task_options_alter_ormq_key_alter_ormq_lock_and_more"),
    ]

    operations = [migrations.RunPython(add_schedule, remove_schedule)]
