"""Subscribers, their zero-party attributes, consent, messages and events.

`conversations` is Parley's base app: it imports nothing from the other apps.
"""

import hashlib
import re

from django.conf import settings
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Coalesce
from django.utils import timezone

from .db import is_postgresql
from .phones import place_for_phone

# An underscore is always followed by a letter or digit: "a__b" or "total_" would read as a path inside the
# JSON in Django lookups ("total_" + "__gt"), so keys never hold a double or a trailing one.
ATTRIBUTE_KEY_PATTERN = r"^[a-z](?:[a-z0-9]|_(?=[a-z0-9])){0,62}$"
ATTRIBUTE_KEY_RE = re.compile(ATTRIBUTE_KEY_PATTERN)


class Tag(models.Model):
    name = models.SlugField(max_length=64, unique=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class SubscriberQuerySet(models.QuerySet):
    def subscribed(self):
        return self.filter(status=Subscriber.Status.SUBSCRIBED)

    def with_tag(self, name: str):
        return self.filter(tags__name=name)

    def with_attribute(self, key: str, value):
        """Subscribers whose attribute `key` is `value`, or, for a list attribute, contains it.

        The JSON functions differ between PostgreSQL and SQLite; this is the one place
        in `conversations` that says how.
        """
        if not ATTRIBUTE_KEY_RE.fullmatch(key):
            raise ValueError(f"invalid attribute key {key!r}")
        single = Q(**{f"attributes__{key}": value})
        table = self.model._meta.db_table
        if is_postgresql(self.db):
            return self.filter(single | Q(**{f"attributes__{key}__contains": [value]}))
        contains = models.expressions.RawSQL(
            f'EXISTS (SELECT 1 FROM json_each("{table}"."attributes", \'$.{key}\') '
            "WHERE json_each.type != 'object' AND json_each.value = %s)",
            [value],
            output_field=models.BooleanField(),
        )
        return self.filter(single | Q(contains))


class Subscriber(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUBSCRIBED = "subscribed", "Subscribed"
        UNSUBSCRIBED = "unsubscribed", "Unsubscribed"

    phone = models.CharField(max_length=16, unique=True, help_text="E.164, e.g. +14155550100")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING, db_index=True)
    first_name = models.CharField(max_length=100, blank=True)
    last_name = models.CharField(max_length=100, blank=True)
    email = models.EmailField(blank=True)
    time_zone = models.CharField(
        max_length=64, help_text="IANA zone; derived from the phone number unless set by hand."
    )
    country = models.CharField(
        max_length=2, blank=True, editable=False, db_index=True, help_text="ISO country of the phone number."
    )
    state = models.CharField(
        max_length=2, blank=True, editable=False, help_text="US state or Canadian province of the phone number."
    )
    consent_source = models.CharField(
        max_length=32, blank=True, help_text="How the current consent was given (keyword, web, api, import…)."
    )
    opted_in_at = models.DateTimeField(null=True, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="subscribers")
    attributes = models.JSONField(default=dict, blank=True, help_text="Zero-party data, keyed by attribute.")
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    last_outbound_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = SubscriberQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["last_name", "first_name"], name="subscriber_name_idx")]

    def __str__(self) -> str:
        name = self.full_name
        return f"{name} ({self.phone})" if name else self.phone

    def save(self, *args, update_fields=None, **kwargs):
        # Where the number is from follows the number (segments filter on it).
        if update_fields is None or "phone" in update_fields:
            self.country, self.state = place_for_phone(self.phone)
            if update_fields is not None:
                update_fields = [*update_fields, "country", "state"]
        super().save(*args, update_fields=update_fields, **kwargs)

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)


class AttributeDefinition(models.Model):
    """A piece of zero-party data a store asks for, and the values it may take."""

    class Type(models.TextChoices):
        SINGLE_CHOICE = "single_choice", "Single choice"
        MULTIPLE_CHOICE = "multiple_choice", "Multiple choice"
        TEXT = "text", "Text"
        NUMBER = "number", "Number"
        DATE = "date", "Date"
        YES_NO = "yes_no", "Yes/no"

    CHOICE_TYPES = (Type.SINGLE_CHOICE, Type.MULTIPLE_CHOICE)

    key = models.CharField(max_length=63, unique=True, help_text="Lower case letters, digits and _, e.g. skin_type")
    label = models.CharField(max_length=100)
    type = models.CharField(max_length=16, choices=Type.choices)
    options = models.JSONField(
        default=list,
        blank=True,
        help_text='Choices only: [{"value": "M", "label": "Medium", "synonyms": ["med"]}, …]',
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["key"]

    def __str__(self) -> str:
        return f"{self.label} ({self.key})"

    @property
    def is_choice(self) -> bool:
        return self.type in self.CHOICE_TYPES

    @property
    def option_values(self) -> list[str]:
        return [option["value"] for option in self.options]

    @property
    def choices(self) -> list[dict]:
        """The options as shown to people: [{"value": "M", "label": "Medium"}, …] (the value when no label)."""
        return [{"value": option["value"], "label": option.get("label") or option["value"]} for option in self.options]

    def option_label(self, value) -> str:
        for option in self.options:
            if option["value"] == value:
                return option["label"]
        return str(value)


class AttributeChange(models.Model):
    """One write of one attribute: the history behind `Subscriber.attributes`."""

    class Source(models.TextChoices):
        FLOW = "flow", "Flow"
        AGENT = "agent", "Agent"
        API = "api", "API"
        IMPORT = "import", "Import"
        WEB = "web", "Web"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="attribute_changes")
    key = models.CharField(max_length=63)
    old_value = models.JSONField(null=True, blank=True)
    new_value = models.JSONField(null=True, blank=True)
    source = models.CharField(max_length=16, choices=Source.choices)
    reference = models.CharField(max_length=100, blank=True, help_text='What made the change, e.g. "flow_run:42".')
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-changed_at", "-id"]
        indexes = [models.Index(fields=["subscriber", "-changed_at"], name="attrchange_subscriber_idx")]

    def __str__(self) -> str:
        return f"{self.key}: {self.old_value!r} → {self.new_value!r}"


class ConsentEvent(models.Model):
    """An append-only record of consent given, revoked or asked about.

    Kept when the subscriber is deleted (the phone is copied here), because
    consent must stay provable for years after the last message.
    """

    class Kind(models.TextChoices):
        OPT_IN = "opt_in", "Opt-in"
        OPT_OUT = "opt_out", "Opt-out"
        HELP = "help", "Help"
        # A web sign-up: the wording they agreed to, waiting for their Y (double opt-in, compliance.md section 2).
        REQUESTED = "requested", "Opt-in requested (waiting for Y)"

    class Source(models.TextChoices):
        KEYWORD = "keyword", "SMS keyword"
        WEB = "web", "Web form"
        API = "api", "API"
        IMPORT = "import", "Import"
        AGENT = "agent", "Agent"
        ADMIN = "admin", "Admin"
        PROVIDER = "provider", "Provider"
        SHOPIFY = "shopify", "Shopify"  # the store's Shopify said so (its customers webhooks)

    subscriber = models.ForeignKey(
        Subscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="consent_events"
    )
    phone = models.CharField(max_length=16, db_index=True)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    source = models.CharField(max_length=16, choices=Source.choices)
    raw_text = models.TextField(blank=True, help_text="The inbound text or form wording that caused it.")
    details = models.JSONField(
        default=dict, blank=True, help_text="Page URL, IP, user agent, disclosure version, message ids…"
    )
    occurred_at = models.DateTimeField()
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["subscriber", "-occurred_at"], name="consent_subscriber_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} by {self.phone} ({self.get_source_display()})"

    def save(self, *args, **kwargs):
        if self.pk is not None and not kwargs.pop("_allow_update", False):
            raise ValueError("ConsentEvent is append-only: record a new event instead of changing one.")
        super().save(*args, **kwargs)


class MessageQuerySet(models.QuerySet):
    def inbound(self):
        return self.filter(direction=Message.Direction.INBOUND)

    def outbound(self):
        return self.filter(direction=Message.Direction.OUTBOUND)

    def queued(self):
        return self.filter(status=Message.Status.QUEUED)

    def claimable(self, now, *, marketing: bool):
        """Due marketing texts, or due others (replies, service texts), in the order they fell due.

        The outbox takes the others first, so a reply never waits behind a campaign's million texts.
        """
        due = (
            self.queued()
            .annotate(due_at=Coalesce("not_before", "created_at"))
            .filter(due_at__lte=now)
            .order_by("due_at", "id")
        )
        return due.filter(purpose=Message.Purpose.MARKETING) if marketing else due.exclude(purpose="marketing")

    def counting_toward_caps(self):
        """Marketing texts that left (or are leaving) Parley: what frequency caps count."""
        return self.filter(
            purpose=Message.Purpose.MARKETING,
            status__in=[Message.Status.SENDING, Message.Status.SENT, Message.Status.DELIVERED],
        )


class Message(models.Model):
    class Direction(models.TextChoices):
        INBOUND = "inbound", "Inbound"
        OUTBOUND = "outbound", "Outbound"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        RECEIVED = "received", "Received"

    class Origin(models.TextChoices):
        SUBSCRIBER = "subscriber", "Subscriber"
        FLOW = "flow", "Flow"
        CAMPAIGN = "campaign", "Campaign"
        AGENT = "agent", "Agent"
        SYSTEM = "system", "System"

    class Encoding(models.TextChoices):
        GSM7 = "GSM-7", "GSM-7"
        UCS2 = "UCS-2", "UCS-2"

    class Purpose(models.TextChoices):
        """Why a text is sent; the send gate applies different rules to each (compliance.md, section 3)."""

        MARKETING = "marketing", "Marketing"
        CONVERSATIONAL = "conversational", "Conversational reply"
        SYSTEM = "system", "Compliance or service text"
        OPT_OUT_CONFIRMATION = "opt_out_confirmation", "Opt-out confirmation"
        # An order update the shopper asked for (shipped, out for delivery, delivered): not a solicitation, so no
        # quiet hours or caps, but only to a subscribed number, never after STOP, and never a link to an offer.
        TRANSACTIONAL = "transactional", "Transactional (order updates)"

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="messages")
    direction = models.CharField(max_length=8, choices=Direction.choices)
    sender = models.CharField(max_length=32, blank=True, help_text="The store's number or sender id.")
    body = models.TextField(blank=True)
    media_urls = models.JSONField(default=list, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    provider_message_id = models.CharField(max_length=64, null=True, blank=True, unique=True)
    segments = models.PositiveSmallIntegerField(default=1)
    encoding = models.CharField(max_length=8, choices=Encoding.choices, default=Encoding.GSM7)
    error_code = models.CharField(max_length=16, blank=True)
    error_message = models.CharField(max_length=255, blank=True)
    origin = models.CharField(max_length=16, choices=Origin.choices)
    # What is behind the message: the flow run's id, or the campaign recipient's id (origin "campaign"); an
    # id, because `conversations` may not import the apps that own those tables.
    origin_id = models.BigIntegerField(null=True, blank=True)
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    purpose = models.CharField(max_length=24, choices=Purpose.choices, default=Purpose.CONVERSATIONAL)
    in_reply_to = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="replies",
        help_text="The inbound text this message answers.",
    )
    not_before = models.DateTimeField(null=True, blank=True, help_text="Queued: do not send before this time.")
    hold_reason = models.CharField(max_length=255, blank=True, help_text="Why a queued message waits.")
    attempts = models.PositiveSmallIntegerField(default=0)
    claimed_until = models.DateTimeField(null=True, blank=True, help_text="Sending: the worker's lease.")
    claim = models.CharField(max_length=32, blank=True, db_default="", help_text="Sending: which claim holds it.")
    attempted_at = models.DateTimeField(
        null=True, blank=True, help_text="When the provider was last called for it (set just before the call)."
    )
    processed_at = models.DateTimeField(null=True, blank=True, help_text="Inbound: when the pipeline handled it.")
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["subscriber", "-created_at"], name="message_subscriber_idx"),
            # The outbox claims replies and service texts first, then marketing, each in the order they fell due
            # (MessageQuerySet.claimable): one index each, so neither sorts the queue of a million-text campaign.
            models.Index(
                Coalesce("not_before", "created_at"),
                "id",
                name="message_queued_idx",
                condition=Q(status="queued") & ~Q(purpose="marketing"),
            ),
            models.Index(
                Coalesce("not_before", "created_at"),
                "id",
                name="message_queued_marketing_idx",
                condition=Q(status="queued", purpose="marketing"),
            ),
            models.Index(fields=["claimed_until"], name="message_sending_idx", condition=Q(status="sending")),
            models.Index(
                fields=["subscriber", "sent_at"], name="message_marketing_idx", condition=Q(purpose="marketing")
            ),
        ]
        constraints = [
            # A campaign texts each recipient once, whatever happens to its fan-out (origin_id is the recipient).
            models.UniqueConstraint(
                fields=["origin_id"], name="message_once_per_recipient", condition=Q(origin="campaign")
            )
        ]

    WARN_ABOVE_SEGMENTS = 3

    def __str__(self) -> str:
        arrow = "←" if self.direction == self.Direction.INBOUND else "→"
        return f"{arrow} {self.body[:40]}"

    @property
    def warnings(self) -> list[str]:
        if self.direction == self.Direction.OUTBOUND and self.segments > self.WARN_ABOVE_SEGMENTS:
            return [
                f"this text takes {self.segments} segments ({self.encoding}); each is billed and counted "
                f"against the send rate, so keep texts to {self.WARN_ABOVE_SEGMENTS} or fewer"
            ]
        return []


class SenderPace(models.Model):
    """The next free send slot of one sender number, shared by every worker process.

    Each send reserves `segments / rate` seconds from `next_slot`, so the
    sender never goes faster than its configured rate, however many workers run.
    """

    sender = models.CharField(max_length=32, unique=True)
    next_slot = models.FloatField(default=0.0, help_text="Unix time of the next free slot.")

    def __str__(self) -> str:
        return self.sender


class Event(models.Model):
    """Something a subscriber did that segments and flows may react to (order placed, cart abandoned…)."""

    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=64)
    properties = models.JSONField(default=dict, blank=True)
    occurred_at = models.DateTimeField()
    idempotency_key = models.CharField(max_length=128, null=True, blank=True, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [
            models.Index(fields=["subscriber", "type", "-occurred_at"], name="event_subscriber_type_idx"),
            models.Index(fields=["type", "-occurred_at"], name="event_type_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.type} at {self.occurred_at:%Y-%m-%d %H:%M}"


class TrackedLink(models.Model):
    """A link of a text sent to one subscriber (a flow's), as a short link `/l/<code>`; a person opening it is a
    `link_clicked` event with `properties` (where it came from: flow, run, node) and the URL.

    Campaign links need no row: their codes are computed from the recipient (campaigns/links.py)."""

    code = models.CharField(max_length=16, unique=True)
    subscriber = models.ForeignKey(Subscriber, on_delete=models.CASCADE, related_name="+")
    url = models.URLField(max_length=2000)
    utm_campaign = models.CharField(max_length=120, blank=True, help_text="The utm_campaign added on the way.")
    properties = models.JSONField(default=dict, blank=True, help_text="What its click event says it came from.")
    clicks = models.PositiveIntegerField(default=0, help_text="Openings by people (link-preview bots not counted).")
    created_at = models.DateTimeField(default=timezone.now)

    def __str__(self) -> str:
        return self.url


class Conversation(models.Model):
    """A subscriber's thread in the inbox: one per subscriber, opened and closed as people need to talk."""

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        PENDING = "pending", "Pending"
        CLOSED = "closed", "Closed"

    class Reason(models.TextChoices):
        INBOUND = "inbound", "A text no keyword or flow handled"
        HANDOFF = "handoff", "A flow handed off"
        AGENT = "agent", "An agent started it"

    LIVE = (Status.OPEN, Status.PENDING)

    subscriber = models.OneToOneField(Subscriber, on_delete=models.CASCADE, related_name="conversation")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.OPEN)
    assignee = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    unread = models.PositiveIntegerField(default=0, help_text="Inbound texts no agent has seen yet.")
    reason = models.CharField(max_length=16, choices=Reason.choices, default=Reason.INBOUND)
    handoff_note = models.CharField(max_length=255, blank=True)
    last_message_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    closed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        permissions = [("use_inbox", "Can use the inbox: read and answer conversations")]
        indexes = [models.Index(fields=["status", "-last_message_at"], name="conversation_inbox_idx")]

    def __str__(self) -> str:
        return f"Conversation with {self.subscriber} ({self.status})"

    @property
    def is_live(self) -> bool:
        return self.status in self.LIVE


class ConversationNote(models.Model):
    """An agent's internal note on a conversation: never sent to the shopper."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="notes")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.body[:60]


class CannedResponse(models.Model):
    """A reply agents pick from a list; personalised like flow texts: {{ first_name|default:"there" }}."""

    title = models.CharField(max_length=100, unique=True)
    body = models.TextField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["title"]

    def __str__(self) -> str:
        return self.title


class HelpdeskDelivery(models.Model):
    """One webhook call to the store's help desk, with every attempt's outcome: the delivery log."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    event = models.CharField(max_length=64)
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    payload = models.JSONField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "help-desk deliveries"
        indexes = [models.Index(fields=["next_attempt_at"], name="helpdesk_due_idx", condition=Q(status="pending"))]

    def __str__(self) -> str:
        return f"{self.event} ({self.status})"


class SignupForm(models.Model):
    """A sign-up form: the pop-up a store embeds, its hosted page /join/<slug>/ and its QR code.

    The disclosure is what the shopper agrees to; each change of its wording is a new version, and every consent
    record keeps the exact text and version it was given under.
    """

    class Trigger(models.TextChoices):
        DELAY = "delay", "After some seconds"
        EXIT = "exit", "On exit intent"
        SCROLL = "scroll", "After scrolling part of the page"

    slug = models.SlugField(max_length=50, unique=True, help_text="Names the form in the embed tag: data-form=…")
    name = models.CharField(max_length=100)
    is_active = models.BooleanField(default=True)
    headline = models.CharField(max_length=120, default="Get 15% off your first order")
    offer_text = models.CharField(
        max_length=300, blank=True, default="Join our texts for new arrivals, restocks and members-only offers."
    )
    button_text = models.CharField(max_length=40, default="Text me the code")
    disclosure = models.TextField(
        help_text="What the shopper agrees to by signing up: brand, recurring automated marketing texts, that "
        "consent is not a condition of purchase, rates, STOP and HELP, terms and privacy."
    )
    disclosure_version = models.PositiveIntegerField(default=1, editable=False)
    country = models.CharField(max_length=2, default="US", help_text="The country preselected for the number.")
    other_countries = models.CharField(
        max_length=100,
        blank=True,
        help_text="Other countries whose numbers may sign up, e.g. CA GB; numbers from anywhere else are refused "
        "(texts abroad cost more and invite SMS pumping).",
    )
    ask_email = models.BooleanField(default=False, help_text="Show an optional e-mail field.")
    question_attribute = models.CharField(
        max_length=63, blank=True, help_text="An attribute with options to ask about, e.g. gift_recipient."
    )
    question_text = models.CharField(max_length=120, blank=True, help_text='e.g. "Who are you shopping for?"')
    trigger = models.CharField(max_length=8, choices=Trigger.choices, default=Trigger.DELAY)
    trigger_value = models.PositiveIntegerField(
        default=5, help_text="Seconds for a delay, percent of the page for scrolling; unused for exit intent."
    )
    hide_days_after_close = models.PositiveIntegerField(default=14, help_text="Not shown again for N days.")
    allowed_origins = models.TextField(
        blank=True,
        help_text="The store's sites that may embed the form, one origin per line, e.g. https://shop.example.com",
    )
    keyword = models.CharField(max_length=20, default="JOIN", help_text="Text-to-join keyword for the QR code.")
    track_browsing = models.BooleanField(
        default=True,
        help_text="The pop-up's script reports the product and collection pages that shoppers it knows (signed up "
        "in that browser, or came from a tracked link in a text) look at, for browse abandonment; anonymous "
        "visitors are never reported. Off: it reports nothing and Parley refuses its reports.",
    )
    thank_you_text = models.CharField(
        max_length=200, default="Almost there! Reply Y to the text we just sent to confirm."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "sign-up form"

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs):
        """A new wording of the disclosure is a new version: consent records name the one they were given under.

        The row is locked while the old wording is read, so two people saving at once make two versions."""
        update_fields = kwargs.get("update_fields")
        if not self.pk or (update_fields is not None and "disclosure" not in update_fields):
            return super().save(*args, **kwargs)
        with transaction.atomic():
            locked = SignupForm.objects.select_for_update().filter(pk=self.pk)
            before = locked.values("disclosure", "disclosure_version").first()
            if before is not None and before["disclosure"] != self.disclosure:
                self.disclosure_version = before["disclosure_version"] + 1
                if update_fields is not None:
                    kwargs["update_fields"] = {*update_fields, "disclosure_version"}
            super().save(*args, **kwargs)

    @property
    def countries(self) -> set[str]:
        return {self.country.upper(), *(code.upper() for code in self.other_countries.replace(",", " ").split())}

    @property
    def origins(self) -> list[str]:
        return [line.strip().rstrip("/") for line in self.allowed_origins.splitlines() if line.strip()]


class SignupAttempt(models.Model):
    """One submission of a sign-up form, kept whatever came of it: the log the rate limits count."""

    class Outcome(models.TextChoices):
        REQUESTED = "requested", "Confirmation text sent"
        ALREADY = "already", "Already subscribed"
        OPTED_OUT = "opted_out", "Opted out: asked to text START"
        INVALID = "invalid", "Refused: bad input"
        LIMITED = "limited", "Refused: too many tries"
        BOT = "bot", "Refused: a bot filled the hidden field"
        ABROAD = "abroad", "Refused: a number from a country the form does not take"
        CHANGED = "changed", "Refused: the wording changed while the page was open"

    form = models.ForeignKey(SignupForm, on_delete=models.CASCADE, related_name="attempts")
    subscriber = models.ForeignKey(Subscriber, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    phone = models.CharField(max_length=32, blank=True)
    ip = models.GenericIPAddressField(null=True, blank=True)
    network = models.CharField(
        max_length=64, blank=True, help_text="What the per-address limit counts: the IPv4 address or the IPv6 /64."
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    created_at = models.DateTimeField(auto_now_add=True)
    confirmed_at = models.DateTimeField(null=True, blank=True, help_text="When they replied Y.")

    class Meta:
        ordering = ["-id"]
        verbose_name = "sign-up attempt"
        indexes = [
            models.Index(fields=["network", "created_at"], name="signup_attempt_ip_idx"),
            models.Index(fields=["phone", "created_at"], name="signup_attempt_phone_idx"),
            models.Index(fields=["form", "created_at"], name="signup_attempt_form_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.phone} on {self.form} ({self.outcome})"


class SignupViews(models.Model):
    """How often a form was shown on a day (counted by the pop-up's beacon)."""

    form = models.ForeignKey(SignupForm, on_delete=models.CASCADE, related_name="views")
    day = models.DateField()
    views = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["form", "day"], name="signup_views_one_row_a_day")]

    def __str__(self) -> str:
        return f"{self.form} {self.day}: {self.views}"


class ApiTokenQuerySet(models.QuerySet):
    def active(self):
        return self.filter(revoked_at__isnull=True)


class ApiToken(models.Model):
    """A key an API client sends as `Authorization: Token <key>`: only the key's SHA-256 is kept, never the key.

    A user may hold several (one per integration), which is how keys rotate: make a new one, move the client to it,
    revoke the old one.
    """

    PREFIX_LENGTH = 12

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="api_tokens",
        help_text="The token acts as this user, with exactly their permissions.",
    )
    name = models.CharField(max_length=100, help_text="What uses it, e.g. “Shopify sync” or “help desk”.")
    prefix = models.CharField(
        max_length=PREFIX_LENGTH, editable=False, help_text="The key's first characters, to tell tokens apart."
    )
    key_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, editable=False, on_delete=models.SET_NULL, related_name="+"
    )
    last_used_at = models.DateTimeField(
        null=True, blank=True, editable=False, help_text="To the minute: requests do not each write it."
    )
    revoked_at = models.DateTimeField(null=True, blank=True, editable=False)

    objects = ApiTokenQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        verbose_name = "API token"

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @staticmethod
    def hash_key(key: str) -> str:
        """SHA-256 is enough for random keys of 160 bits or more: there is nothing to guess from a dictionary."""
        return hashlib.sha256(key.encode()).hexdigest()
