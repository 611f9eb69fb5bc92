from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils.module_loading import import_string

from conversations.demo import DemoSeeder, fictional_capacity
from conversations.inbox.demo import demo_conversations_load
from conversations.services import attribute_definitions_ensure_defaults


class Command(BaseCommand):
    help = "Create the default attribute definitions and N demo subscribers with histories (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--subscribers", type=int, default=200, help="how many demo subscribers (default 200)")
        parser.add_argument("--seed", type=int, default=7, help="random seed for the generated histories")
        parser.add_argument(
            "--allow-real-provider",
            action="store_true",
            help="seed even when SMS_PROVIDER is not 'console' (demo numbers may belong to real people)",
        )

    def handle(self, *args, subscribers, seed, allow_real_provider, **options):
        if subscribers < 0:
            raise CommandError("--subscribers must be 0 or more")
        if settings.SMS_PROVIDER != "console" and not allow_real_provider:
            raise CommandError(
                f"SMS_PROVIDER is {settings.SMS_PROVIDER!r}: demo numbers could be real phones. "
                "Seed with the console provider, or pass --allow-real-provider."
            )
        added = attribute_definitions_ensure_defaults()
        if added:
            self.stdout.write(f"Added attribute definitions: {', '.join(added)}")
        for path in settings.DEMO_LOADERS:  # other apps' demo content (flow templates…)
            loaded = import_string(path)()
            if loaded:
                self.stdout.write(f"Added by {path}: {', '.join(loaded)}")
        seeder = DemoSeeder(seed=seed, stdout=self.stdout if subscribers >= 100000 else None)
        if subscribers > fictional_capacity(seeder.area_codes):
            self.stdout.write(
                self.style.WARNING(
                    f"Only the first {fictional_capacity(seeder.area_codes):,} demo numbers are in the fictional "
                    "555-0100..0199 block; the rest are 555 numbers that could be real: keep this database away "
                    "from a real SMS provider."
                )
            )
        created = seeder.run(subscribers)
        opened = demo_conversations_load()
        if opened:
            self.stdout.write(f"Opened demo inbox conversations with {', '.join(opened)}")
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready: {created:,} subscriber(s) added, {subscribers - created:,} already there."
            )
        )
