from django.core.management.base import BaseCommand, CommandError


class Command(BaseCommand):
    help = "Run one pass of all due timed work (settings.DUE_WORK): flow waits and timeouts, then the outbox."

    def handle(self, *args, **options):
        from conversations.tasks import due_work_run

        outcomes = due_work_run()
        for path, outcome, _ in outcomes:
            self.stdout.write(f"{path}: {outcome}")
        if any(error for _, _, error in outcomes):
            raise CommandError("some due work failed; see the log above")
