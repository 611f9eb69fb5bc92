"""The every-minute schedule runs all due timed work (flows' waits too), not only the outbox."""

from django.db import migrations


def to_process_due(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name="send due texts").delete()
    Schedule.objects.update_or_create(
        name="process due work",
        defaults={"func": "conversations.tasks.process_due", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


def back_to_send_due(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.filter(name="process due work").delete()
    Schedule.objects.update_or_create(
        name="send due texts",
        defaults={"func": "conversations.tasks.send_due", "schedule_type": "I", "minutes": 1, "repeats": -1},
    )


class Migration(migrations.Migration):
    dependencies = [("conversations", "0004_send_due_schedule")]

    operations = [migrations.RunPython(to_process_due, back_to_send_due)]
