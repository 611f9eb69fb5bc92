"""Campaigns: one text (or up to five variants) to the members of segments, with tracked links and results.

A campaign is composed as a draft, then sent now, at a time, or at a wall-clock time in each subscriber's own
zone. Sending fixes the audience (the segments' rules are copied), then the worker materializes `Recipient`
rows and their `Message` rows in chunks of subscriber ids with `INSERT … SELECT` (see campaigns/fanout.py).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from conversations.models import Event, Subscriber


class Campaign(models.Model):
    class Status(models.TextChoices):
        DRAFT = "draft", "Draft"
        SCHEDULED = "scheduled", "Scheduled"
        SENDING = "sending", "Sending"
        TESTING = "testing", "Testing variants"
        PAUSED = "paused", "Paused"
        SENT = "sent", "Sent"
        CANCELLED = "cancelled", "Cancelled"

    class WinnerMetric(models.TextChoices):
        CLICKS = "clicks", "Click rate"
        REPLIES = "replies", "Reply rate"
        REVENUE = "revenue", "Revenue per recipient"

    EDITABLE = (Status.DRAFT,)  # a scheduled campaign goes back to draft (unschedule) before it changes
    DELETABLE = (Status.DRAFT, Status.CANCELLED)  # a campaign that went out keeps its results
    UNDERWAY = (Status.SENDING, Status.TESTING, Status.PAUSED)

    name = models.CharField(max_length=100)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DRAFT, db_index=True)
    link_url = models.URLField(
        max_length=2000, blank=True, help_text="The page {{ link }} points to; it is sent as a tracked short link."
    )
    media_url = models.URLField(max_length=2000, blank=True, help_text="An image sent with the text (MMS).")
    include_segments = models.ManyToManyField("segments.Segment", blank=True, related_name="+")
    exclude_segments = models.ManyToManyField("segments.Segment", blank=True, related_name="+")
    exclude_texted_within_hours = models.PositiveIntegerField(
        null=True, blank=True, help_text="Leave out anyone texted (by anything) in the last N hours."
    )
    holdout_percent = models.PositiveSmallIntegerField(
        default=0, help_text="A share of the audience that gets nothing, to compare results against."
    )
    test_percent = models.PositiveSmallIntegerField(
        null=True,
        blank=True,
        help_text="Test, then send the winner: the share of the audience that gets the variants first.",
    )
    winner_metric = models.CharField(max_length=16, choices=WinnerMetric.choices, default=WinnerMetric.CLICKS)
    winner_after_hours = models.PositiveIntegerField(default=4, help_text="How long the test runs.")
    send_at = models.DateTimeField(null=True, blank=True, help_text="Empty: as soon as it is sent.")
    local_time = models.BooleanField(
        default=False,
        help_text="Read send_at's date and time of day in the store's time zone (PARLEY_DEFAULT_TIME_ZONE) and "
        "send at that time of day in each subscriber's own zone.",
    )

    fanout_at = models.DateTimeField(
        null=True, blank=True, help_text="When the fan-out begins: send_at, or earlier for local-time sends."
    )
    # Fixed when the fan-out begins.
    rules = models.JSONField(null=True, blank=True, help_text="The audience's rules, copied when it was sent.")
    audience_at = models.DateTimeField(null=True, blank=True, help_text="The moment the rules are evaluated at.")
    link_secret = models.CharField(max_length=16, blank=True, help_text="Signs the campaign's short links.")
    fanout_cursor = models.BigIntegerField(default=0, help_text="Subscribers up to this id are materialized.")
    winner = models.ForeignKey("Variant", null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    winner_reason = models.CharField(max_length=255, blank=True)
    end_reason = models.CharField(max_length=255, blank=True)

    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    started_at = models.DateTimeField(null=True, blank=True, help_text="When the fan-out began.")
    finished_at = models.DateTimeField(null=True, blank=True, help_text="When every message was queued.")

    class Meta:
        ordering = ["-id"]
        permissions = [("send_campaign", "Can send, pause, resume and cancel campaigns")]
        indexes = [
            models.Index(
                fields=["fanout_at"], name="campaign_due_idx", condition=Q(status__in=["scheduled", "sending"])
            )
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_editable(self) -> bool:
        return self.status in self.EDITABLE


class Variant(models.Model):
    """One version of the text; a campaign without an A/B test has one variant, labelled A."""

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="variants")
    label = models.CharField(max_length=1)
    body = models.TextField()
    weight = models.PositiveSmallIntegerField(default=100, help_text="Share of the audience, in percent.")

    class Meta:
        ordering = ["campaign", "label"]
        constraints = [models.UniqueConstraint(fields=["campaign", "label"], name="variant_unique_label")]

    def __str__(self) -> str:
        return f"{self.campaign} · {self.label}"


class Recipient(models.Model):
    """One subscriber in a campaign's audience: sent a variant, held out, or waiting for the test's winner."""

    class Status(models.TextChoices):
        QUEUED = "queued", "Message queued"
        HOLDOUT = "holdout", "Held out"
        WAITING = "waiting", "Waiting for the winner"
        CANCELLED = "cancelled", "Cancelled"

    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="recipients")
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    variant = models.ForeignKey(Variant, null=True, blank=True, on_delete=models.CASCADE, related_name="recipients")
    status = models.CharField(max_length=16, choices=Status.choices)
    bucket = models.PositiveSmallIntegerField(help_text="0-9999, from the subscriber's id: decides the split.")
    # The recipient's text is the Message with origin "campaign" and origin_id = this recipient's id.

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["campaign", "subscriber"], name="recipient_once_per_campaign"),
        ]
        indexes = [
            models.Index(fields=["subscriber", "campaign"], name="recipient_subscriber_idx"),
            models.Index(fields=["campaign", "id"], name="recipient_waiting_idx", condition=Q(status="waiting")),
        ]

    def __str__(self) -> str:
        return f"{self.subscriber} in {self.campaign}"


class Link(models.Model):
    """A URL of a variant's body, sent as a short link per recipient: /l/<recipient><letter><check>."""

    variant = models.ForeignKey(Variant, on_delete=models.CASCADE, related_name="links")
    letter = models.CharField(max_length=1, help_text="g-z: the link's place in the body.")
    url = models.URLField(max_length=2000)

    class Meta:
        ordering = ["variant", "letter"]
        constraints = [models.UniqueConstraint(fields=["variant", "letter"], name="link_unique_letter")]

    def __str__(self) -> str:
        return self.url


class Click(models.Model):
    """One opening of a short link; link-preview fetches by bots are kept but flagged and never counted."""

    link = models.ForeignKey(Link, on_delete=models.CASCADE, related_name="clicks")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="clicks")
    is_bot = models.BooleanField(default=False)
    user_agent = models.CharField(max_length=500, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    clicked_at = models.DateTimeField()

    class Meta:
        ordering = ["-clicked_at"]
        indexes = [models.Index(fields=["recipient", "clicked_at"], name="click_recipient_idx")]

    def __str__(self) -> str:
        return f"{self.link} at {self.clicked_at:%Y-%m-%d %H:%M}"


class Attribution(models.Model):
    """An order credited to the campaign that touched the shopper last: a click within the click window, else a
    text received within the receive window (settings CAMPAIGN_ATTRIBUTION_*)."""

    class Touch(models.TextChoices):
        CLICK = "click", "Clicked a link"
        RECEIVED = "received", "Received the text"

    event = models.OneToOneField(Event, on_delete=models.CASCADE, related_name="+")
    recipient = models.ForeignKey(Recipient, on_delete=models.CASCADE, related_name="attributions")
    campaign = models.ForeignKey(Campaign, on_delete=models.CASCADE, related_name="attributions")
    touch = models.CharField(max_length=16, choices=Touch.choices)
    revenue = models.DecimalField(max_digits=14, decimal_places=2, default=0)
    currency = models.CharField(max_length=3, blank=True)
    ordered_at = models.DateTimeField()

    class Meta:
        ordering = ["-ordered_at"]

    def __str__(self) -> str:
        return f"{self.revenue} {self.currency} for {self.campaign}"
