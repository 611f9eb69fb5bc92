"""The Agents group: help-desk agents use the inbox and nothing else (they are not staff, so no admin)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations

AGENT_PERMISSIONS = ["use_inbox"]
CANNED = [
    (
        "Shipping to Canada",
        'Hi {{ first_name|default:"there" }}! Yes, we ship to Canada: 5-8 business days, free over $75.',
    ),
    (
        "Returns",
        'Hi {{ first_name|default:"there" }}, returns are free within 30 days: reply with your order number '
        "and we'll send a label.",
    ),
    (
        "Sizing help",
        'Happy to help with sizing, {{ first_name|default:"there" }}! Our size guide: https://shop.example.com/sizes',
    ),
]


def create_agents(apps, schema_editor):
    # Permissions are made after all migrations; make this app's now so that the group can hold them.
    app_config = apps.get_app_config("conversations")
    app_config.models_module = True
    create_permissions(app_config, verbosity=0, apps=apps)
    app_config.models_module = None
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    agents, _ = Group.objects.get_or_create(name="Agents")
    agents.permissions.add(
        *Permission.objects.filter(content_type__app_label="conversations", codename__in=AGENT_PERMISSIONS)
    )
    CannedResponse = apps.get_model("conversations", "CannedResponse")
    for title, body in CANNED:
        CannedResponse.objects.get_or_create(title=title, defaults={"body": body})


def remove_agents(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name="Agents").delete()


class Migration(migrations.Migration):
    dependencies = [
        ("conversations", "0008_inbox"),
        ("auth", "0012_alter_user_first_name_max_length"),
    ]

    operations = [migrations.RunPython(create_agents, remove_agents)]
