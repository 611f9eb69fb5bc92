"""The store's platform as Parley keeps it: every webhook delivery received, refusals counted, and the catalog.

`commerce` reads and writes `conversations` only through its services (events, subscribers, consent); nothing in
`conversations` or `segments` imports this app.
"""

from django.db import models
from django.db.models import Exists, OuterRef, Q


class Platform(models.TextChoices):
    SHOPIFY = "shopify", "Shopify"
    WOOCOMMERCE = "woocommerce", "WooCommerce"


class WebhookDelivery(models.Model):
    """One signed webhook request from the store's platform, kept whatever came of it: the delivery log.

    Stored before it is processed, so a delivery that fails half-way is still on record. The body holds personal
    data (names, phones, addresses) and is cleared after COMMERCE_WEBHOOK_BODY_DAYS; the rest is kept.
    """

    class Outcome(models.TextChoices):
        RECEIVED = "received", "Received, being processed"
        PROCESSED = "processed", "Processed"
        IGNORED = "ignored", "Ignored"
        DUPLICATE = "duplicate", "Duplicate (already received)"
        REJECTED = "rejected", "Rejected: the body could not be read"
        FAILED = "failed", "Failed in Parley"

    platform = models.CharField(max_length=16, choices=Platform.choices)
    topic = models.CharField(max_length=100, help_text="e.g. orders/create (Shopify) or order.updated (WooCommerce).")
    delivery_id = models.CharField(
        max_length=128, blank=True, help_text="X-Shopify-Webhook-Id or X-WC-Webhook-Delivery-ID."
    )
    event_id = models.CharField(max_length=128, blank=True, help_text="X-Shopify-Event-Id, when sent.")
    # What a repeat of this delivery would carry: "<platform>:<key>"; empty (NULL) on the duplicates themselves.
    dedupe_key = models.CharField(max_length=200, null=True, blank=True, unique=True, editable=False)
    duplicate_of = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="duplicates"
    )
    resource_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="The order, product or inventory item it is about."
    )
    shop = models.CharField(max_length=255, blank=True, help_text="The shop's domain or WooCommerce site.")
    api_version = models.CharField(max_length=32, blank=True)
    triggered_at = models.DateTimeField(null=True, blank=True, help_text="When the platform says it happened.")
    received_at = models.DateTimeField(db_index=True)
    processed_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=1, help_text="Received this many times (retries of a failure).")
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.RECEIVED)
    detail = models.TextField(
        blank=True, help_text="What came of it: the event made, or why it was ignored, rejected or failed."
    )
    body = models.JSONField(null=True, blank=True, help_text="The payload, kept for COMMERCE_WEBHOOK_BODY_DAYS.")

    class Meta:
        ordering = ["-id"]
        verbose_name_plural = "webhook deliveries"
        indexes = [
            models.Index(fields=["platform", "topic", "event_id"], name="delivery_event_idx"),
            # The Store connection page reads the newest delivery of each topic.
            models.Index(fields=["platform", "topic", "-id"], name="delivery_topic_newest_idx"),
            models.Index(fields=["outcome", "-received_at"], name="delivery_outcome_idx"),
            # The retention sweep finds the bodies still kept, oldest first, without reading the rest.
            models.Index(fields=["received_at"], name="delivery_body_kept_idx", condition=Q(body__isnull=False)),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.topic} ({self.outcome})"


class WebhookRefusal(models.Model):
    """Requests refused before anything was read, counted per platform, day and reason: nothing else is kept.

    An unsigned or forged request must not fill the database, so it leaves only a count.
    """

    class Reason(models.TextChoices):
        NOT_CONFIGURED = "not_configured", "No secret configured"
        MISSING_SIGNATURE = "missing_signature", "Missing signature"
        WRONG_SIGNATURE = "wrong_signature", "Wrong signature"
        WRONG_SHOP = "wrong_shop", "Another shop's domain"
        PING = "ping", "WooCommerce ping (answered 200)"

    platform = models.CharField(max_length=16, choices=Platform.choices)
    day = models.DateField()
    reason = models.CharField(max_length=24, choices=Reason.choices)
    count = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["-day", "platform", "reason"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "day", "reason"], name="webhook_refusal_one_row_a_day")
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} {self.day}: {self.count} × {self.get_reason_display()}"


class PlatformCustomer(models.Model):
    """A customer of the store's platform, linked to the subscriber with their number (customers webhooks).

    What the platform last said about their SMS consent is kept here; the consent itself lives in the subscriber's
    consent records. The link is how an opt-out in Parley finds the customer to unsubscribe in the store too.
    """

    platform = models.CharField(max_length=16, choices=Platform.choices)
    external_id = models.CharField(max_length=64, help_text="The platform's customer id.")
    subscriber = models.ForeignKey(
        "conversations.Subscriber",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="platform_customers",
        help_text="The subscriber with the customer's phone number, when there is one.",
    )
    sms_state = models.CharField(
        max_length=32, blank=True, help_text="The SMS consent state the platform last sent (subscribed, …)."
    )
    consent_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="When the shopper last decided, as the platform says."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["platform", "external_id"], name="platform_customer_once_per_id")
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} customer {self.external_id}"


class ConsentPush(models.Model):
    """An opt-out in Parley, to be told to the store's platform (Shopify's Admin API), tried until it takes.

    Written in the opt-out's transaction and sent by the worker afterwards, never in the request that received
    the STOP; a failure is tried again later with backoff (settings.DUE_WORK), then left `failed` in the admin.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        DONE = "done", "Done"
        FAILED = "failed", "Failed for good"
        # Never sent (or its result no longer counts): the shopper opted in again in Parley (START) first.
        CANCELLED = "cancelled", "Cancelled: the shopper opted in again"

    customer = models.ForeignKey(PlatformCustomer, on_delete=models.CASCADE, related_name="consent_pushes")
    state = models.CharField(max_length=32, help_text="What the platform is told: unsubscribed.")
    decided_at = models.DateTimeField(help_text="When the shopper decided (the opt-out's time).")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    done_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [models.Index(fields=["next_attempt_at"], name="consent_push_due_idx", condition=Q(status="pending"))]

    def __str__(self) -> str:
        return f"{self.customer}: {self.state} ({self.status})"


class ProductQuerySet(models.QuerySet):
    def active(self):
        return self.filter(status=Product.Status.ACTIVE)

    def in_stock(self):
        """Products with at least one variant in stock."""
        return self.filter(Exists(Variant.objects.filter(product=OuterRef("pk"), in_stock=True)))


class Product(models.Model):
    """A product the store sells, as its platform last described it (webhooks or `manage.py import_catalog`)."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        DRAFT = "draft", "Draft"
        ARCHIVED = "archived", "Archived (deleted in the store)"

    platform = models.CharField(max_length=16, choices=Platform.choices)
    external_id = models.CharField(
        max_length=64, blank=True, help_text="The platform's id; empty for a product imported from a file."
    )
    title = models.CharField(max_length=255)
    handle = models.CharField(max_length=255, blank=True, help_text="Shopify's handle or WooCommerce's slug.")
    url = models.URLField(max_length=2000, blank=True)
    image_url = models.URLField(max_length=2000, blank=True)
    vendor = models.CharField(max_length=255, blank=True)
    product_type = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE, db_index=True)
    platform_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The platform's own updated_at: an older delivery does not overwrite."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = ProductQuerySet.as_manager()

    class Meta:
        ordering = ["title", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["platform", "external_id"], name="product_once_per_platform_id", condition=~Q(external_id="")
            )
        ]
        indexes = [models.Index(fields=["platform", "handle"], name="product_handle_idx")]

    def __str__(self) -> str:
        return self.title


class Variant(models.Model):
    """One buyable version of a product (a size, a colour), with its price and stock."""

    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="variants")
    external_id = models.CharField(max_length=64, blank=True)
    title = models.CharField(max_length=255, blank=True)
    sku = models.CharField(max_length=255, blank=True, db_index=True)
    position = models.PositiveIntegerField(default=0)
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    compare_at_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    options = models.JSONField(
        default=list, blank=True, help_text='As the store names them: [{"name": "Size", "value": "Medium"}, …]'
    )
    attributes = models.JSONField(
        default=dict,
        blank=True,
        help_text='The options that mean an attribute\'s option, e.g. {"size": "M"} for Size "Medium".',
    )
    image_url = models.URLField(max_length=2000, blank=True)
    inventory_item_id = models.CharField(
        max_length=64, blank=True, db_index=True, help_text="Shopify's inventory item (inventory_levels/update)."
    )
    inventory_tracked = models.BooleanField(default=True)
    inventory_quantity = models.IntegerField(null=True, blank=True, help_text="Empty: not known.")
    inventory_levels = models.JSONField(
        default=dict, blank=True, help_text="Shopify: available per location id, from inventory_levels/update."
    )
    sells_when_out = models.BooleanField(
        default=False,
        help_text="Sold when none are left (Shopify's inventory policy continue, WooCommerce backorders).",
    )
    in_stock = models.BooleanField(default=True, db_index=True)
    platform_updated_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["product", "position", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["product", "external_id"], name="variant_once_per_product_id", condition=~Q(external_id="")
            )
        ]

    def __str__(self) -> str:
        return f"{self.product.title} — {self.title}" if self.title else self.product.title

    @property
    def option_text(self) -> str:
        return ", ".join(f"{option['name']}: {option['value']}" for option in self.options)


class CheckoutQuerySet(models.QuerySet):
    def waiting(self):
        """Checkouts that may still be called abandoned: a phone, no order, not abandoned yet."""
        return self.exclude(phone="").filter(completed_at__isnull=True, abandoned_at__isnull=True)

    def due(self, cutoff):
        """Waiting checkouts the shopper last touched before `cutoff` (now less CHECKOUT_ABANDONED_MINUTES)."""
        return self.waiting().filter(touched_at__lte=cutoff)


class Checkout(models.Model):
    """A shopper's checkout as the platform last described it (Shopify's checkouts/create and checkouts/update).

    Shopify sends no "abandoned" event: a checkout with a phone that no order completes within
    CHECKOUT_ABANDONED_MINUTES of its last change becomes one `cart_abandoned` event (the due work).
    """

    platform = models.CharField(max_length=16, choices=Platform.choices)
    token = models.CharField(max_length=100, help_text="Shopify's checkout token (an order's checkout_token).")
    cart_token = models.CharField(max_length=100, blank=True)
    external_id = models.CharField(max_length=64, blank=True, help_text="The platform's checkout id.")
    phone = models.CharField(
        max_length=16, blank=True, db_index=True, help_text="E.164; empty when the checkout holds no usable number."
    )
    phone_problem = models.CharField(
        max_length=500, blank=True, help_text="Why there is no phone: none given, or why it did not parse."
    )
    abandoned_checkout_url = models.URLField(
        max_length=2000, blank=True, help_text="The shopper's own link back to this checkout."
    )
    total = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    currency = models.CharField(max_length=3, blank=True)
    item_count = models.PositiveIntegerField(default=0)
    properties = models.JSONField(
        default=dict, blank=True, help_text="The checkout_started and cart_abandoned events' properties."
    )
    started_at = models.DateTimeField(
        null=True, blank=True, help_text="When the shopper began it (empty: only an order has named it so far)."
    )
    platform_updated_at = models.DateTimeField(
        null=True, blank=True, help_text="The platform's own updated_at: an older delivery does not overwrite."
    )
    touched_at = models.DateTimeField(
        null=True, blank=True, help_text="When the shopper last changed it; the abandonment delay counts from here."
    )
    completed_at = models.DateTimeField(null=True, blank=True, help_text="An order completed it: never abandoned.")
    order_id = models.CharField(max_length=64, blank=True, help_text="The order that completed it.")
    started_recorded = models.BooleanField(default=False, help_text="checkout_started was recorded for it.")
    abandoned_at = models.DateTimeField(null=True, blank=True, help_text="When Parley called it abandoned.")
    note = models.CharField(max_length=500, blank=True, help_text="What came of it: the events recorded, or why not.")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CheckoutQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        # Token first, so that the admin's search by token uses this index too.
        constraints = [models.UniqueConstraint(fields=["token", "platform"], name="checkout_once_per_platform_token")]
        indexes = [
            # The abandonment's due query reads only the waiting checkouts, oldest touch first.
            models.Index(
                fields=["touched_at"],
                name="checkout_waiting_idx",
                condition=Q(completed_at__isnull=True, abandoned_at__isnull=True) & ~Q(phone=""),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_platform_display()} checkout {self.token}"

    @property
    def state(self) -> str:
        if self.completed_at:
            return "completed"
        if self.abandoned_at:
            return "abandoned"
        if not self.phone:
            return "no phone"
        return "waiting"


class BackInStockRequestQuerySet(models.QuerySet):
    def waiting(self):
        return self.filter(status=BackInStockRequest.Status.WAITING)


class BackInStockRequest(models.Model):
    """A shopper asked to be told when a product (in their size: the variant) is back in stock.

    While it waits, a restock of its variant (or, without one, of any variant of its product) turns it into one
    `back_in_stock` event, oldest requests first and no more than the stock; after BACK_IN_STOCK_DAYS it expires.
    """

    class Source(models.TextChoices):
        API = "api", "API"
        KEYWORD = "keyword", "Keyword"
        FLOW = "flow", "Flow"

    class Status(models.TextChoices):
        WAITING = "waiting", "Waiting"
        NOTIFIED = "notified", "Notified"
        EXPIRED = "expired", "Expired"

    subscriber = models.ForeignKey(
        "conversations.Subscriber", on_delete=models.CASCADE, related_name="back_in_stock_requests"
    )
    product = models.ForeignKey(Product, on_delete=models.CASCADE, related_name="back_in_stock_requests")
    variant = models.ForeignKey(
        Variant,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="back_in_stock_requests",
        help_text="The one in their size; empty when no size is known (any variant of the product will do).",
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.WAITING)
    requested_at = models.DateTimeField()
    expires_at = models.DateTimeField(help_text="BACK_IN_STOCK_DAYS after the request.")
    notified_at = models.DateTimeField(null=True, blank=True, help_text="When its back_in_stock event was recorded.")

    objects = BackInStockRequestQuerySet.as_manager()

    class Meta:
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["subscriber", "variant"],
                name="back_in_stock_one_waiting_per_variant",
                condition=Q(status="waiting", variant__isnull=False),
            ),
            models.UniqueConstraint(
                fields=["subscriber", "product"],
                name="back_in_stock_one_waiting_per_product",
                condition=Q(status="waiting", variant__isnull=True),
            ),
        ]
        indexes = [
            # A restock reads the waiting requests of a variant, oldest first; the expiry reads them by date.
            models.Index(
                fields=["variant", "requested_at"], name="back_in_stock_waiting_idx", condition=Q(status="waiting")
            ),
            models.Index(fields=["expires_at"], name="back_in_stock_expiry_idx", condition=Q(status="waiting")),
        ]

    def __str__(self) -> str:
        return f"back in stock: {self.variant or self.product} ({self.status})"
