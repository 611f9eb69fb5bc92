"""Flows, their published versions, runs and results, and offer codes."""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone

from conversations.models import Subscriber


class Flow(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        ACTIVE = "active", "Active"
        ARCHIVED = "archived", "Archived"

    class Trigger(models.TextChoices):
        OPT_IN = "opt_in", "Opt-in (welcome)"
        KEYWORD = "keyword", "Keyword"
        EVENT = "event", "Event"
        MANUAL = "manual", "Manual or API only"

    class Reentry(models.TextChoices):
        ONCE = "once", "Once ever"
        EVERY_N_DAYS = "every_n_days", "Once per N days"
        ALWAYS = "always", "Every time"

    class Purpose(models.TextChoices):
        """What the flow's texts are to the send gate (conversations.models.Message.Purpose)."""

        MARKETING = "marketing", "Marketing (quiet hours and caps apply)"
        TRANSACTIONAL = "transactional", "Transactional: order updates, nothing that sells"

    name = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.MANUAL)
    keywords = models.JSONField(default=list, blank=True, help_text="Keyword trigger: normalized words.")
    event_type = models.CharField(max_length=64, blank=True, help_text="Event trigger: e.g. cart_abandoned.")
    event_filter = models.JSONField(default=dict, blank=True, help_text="Event trigger: properties that must match.")
    reentry = models.CharField(max_length=16, choices=Reentry.choices, default=Reentry.ALWAYS)
    reentry_days = models.PositiveIntegerField(default=0)
    purpose = models.CharField(
        max_length=16,
        choices=Purpose.choices,
        default=Purpose.MARKETING,
        help_text="Transactional flows text order updates at any hour and may hold no offer; marketing is the rest.",
    )
    draft = models.JSONField(default=dict, blank=True, help_text="The definition being edited.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def live_version(self):
        return self.versions.order_by("-number").first()


class FlowVersion(models.Model):
    """An immutable published definition; runs pin the version they started on."""

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    definition = models.JSONField()
    published_at = models.DateTimeField(auto_now_add=True)
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["flow", "-number"]
        constraints = [models.UniqueConstraint(fields=["flow", "number"], name="flowversion_unique_number")]

    def __str__(self) -> str:
        return f"{self.flow} v{self.number}"

    def save(self, *args, **kwargs):
        if self.pk is not None:
            raise ValueError("a published flow version never changes: publish a new one")
        super().save(*args, **kwargs)


class FlowRunQuerySet(models.QuerySet):
    def live(self):
        return self.filter(status__in=[FlowRun.Status.ACTIVE, FlowRun.Status.WAITING])

    def due(self, now):
        return self.filter(status=FlowRun.Status.WAITING, wake_at__lte=now)


class FlowRun(models.Model):
    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        WAITING = "waiting", "Waiting"
        COMPLETED = "completed", "Completed"
        EXPIRED = "expired", "Expired"
        INTERRUPTED = "interrupted", "Interrupted"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="runs")
    version = models.ForeignKey(FlowVersion, on_delete=models.PROTECT, related_name="runs")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="flow_runs")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    state = models.JSONField(default=dict, help_text="The engine's state: node, retries, path, answers.")
    current_node = models.CharField(max_length=64, blank=True)
    waiting_for = models.CharField(max_length=16, blank=True)
    wake_at = models.DateTimeField(null=True, blank=True)
    trigger = models.CharField(max_length=32, blank=True, help_text="What started it: opt_in, keyword, event…")
    paused_at = models.DateTimeField(
        null=True, blank=True, help_text="Set while an inbox conversation is open: the run waits for it to close."
    )
    end_reason = models.CharField(max_length=255, blank=True)
    started_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    objects = FlowRunQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            # One live run per subscriber: what a second trigger does is decided in flows.services.run_start.
            models.UniqueConstraint(
                fields=["subscriber"], condition=Q(status__in=["active", "waiting"]), name="flowrun_one_live"
            )
        ]
        indexes = [
            models.Index(fields=["wake_at"], name="flowrun_due_idx", condition=Q(status="waiting")),
            models.Index(fields=["flow", "subscriber"], name="flowrun_flow_subscriber_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.flow} for {self.subscriber_id} ({self.status})"


class FlowResult(models.Model):
    """One answer (or non-answer) to a question of a run."""

    run = models.ForeignKey(FlowRun, on_delete=models.CASCADE, related_name="results")
    node = models.CharField(max_length=64)
    raw_text = models.TextField(blank=True)
    category = models.CharField(max_length=255)
    value = models.JSONField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "node"], name="flowresult_run_node_idx")]

    def __str__(self) -> str:
        return f"{self.node}: {self.category}"


class OfferCode(models.Model):
    """A unique discount code in a pool; each is given to one subscriber at most."""

    pool = models.SlugField(max_length=64)
    code = models.CharField(max_length=64, unique=True)
    subscriber = models.ForeignKey(Subscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    run = models.ForeignKey(FlowRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["pool"], name="offercode_free_idx", condition=Q(subscriber__isnull=True))]

    def __str__(self) -> str:
        return f"{self.pool}: {self.code}"


class FlowLaunch(models.Model):
    """A store's start of a flow for every member of a segment, worked through in batches by the worker.

    The segment's rules are copied at launch and evaluated as of `created_at`, so the audience is the one
    the store confirmed, whatever happens to the segment later. `last_subscriber_id` is the cursor that
    makes the work resumable: a batch and its cursor move commit together.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        DONE = "done", "Done"
        CANCELLED = "cancelled", "Cancelled"

    flow = models.ForeignKey(Flow, on_delete=models.CASCADE, related_name="launches")
    segment = models.ForeignKey(
        "segments.Segment", null=True, blank=True, on_delete=models.SET_NULL, related_name="flow_launches"
    )
    segment_name = models.CharField(max_length=100)
    rules = models.JSONField(help_text="The segment's rules when the flow was launched.")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    audience = models.PositiveIntegerField(help_text="Members counted when the store confirmed.")
    started = models.PositiveIntegerField(default=0)
    skipped = models.PositiveIntegerField(default=0, help_text="Opted out, busy in another flow, or not re-entering.")
    last_subscriber_id = models.BigIntegerField(default=0)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    end_reason = models.CharField(max_length=255, blank=True)
    created_at = models.DateTimeField(default=timezone.now, help_text="Also the time the segment is evaluated at.")
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["id"], name="flowlaunch_queued_idx", condition=Q(status="queued"))]
        constraints = [
            # A double click must not text a segment twice: one queued launch per flow and segment.
            models.UniqueConstraint(
                fields=["flow", "segment"], condition=Q(status="queued"), name="flowlaunch_one_queued"
            )
        ]

    def __str__(self) -> str:
        return f"{self.flow} for {self.segment_name} ({self.status})"
