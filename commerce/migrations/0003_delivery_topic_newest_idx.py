from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("commerce", "0002_checkout"),
    ]

    operations = [
        migrations.AddIndex(
            model_name="webhookdelivery",
            index=models.Index(fields=["platform", "topic", "-id"], name="delivery_topic_newest_idx"),
        ),
    ]
