"""The way back: an opt-out in Parley unsubscribes the customer in Shopify too (Admin GraphQL API).

When a number opts out (STOP by text, an agent, the API, the carrier) and SHOPIFY_ADMIN_API_TOKEN is set, each
Shopify customer linked to that subscriber gets a `ConsentPush`, written in the opt-out's transaction. The worker
sends it after the commit (one task per opt-out, `commerce.tasks.consent_push_send`), never the request that
received the STOP, as Shopify's `customerSmsMarketingConsentUpdate` with marketingState UNSUBSCRIBED. A failure is
tried again 1 min, 5 min, 30 min, 2 h and 6 h later (the due work, which also sends a push whose task was lost),
then left failed; it is logged by the push's id, never with the phone. An opt-out Shopify told Parley is not sent
back. A subscriber who is opted out already when a Shopify customer is first linked to them gets a push for that
customer too (commerce/services/customers.py), so Shopify learns of an opt-out made before it knew the number. When
the shopper opts in again in Parley (START, subscriber_opted_in) before a push went out, their waiting pushes are
cancelled: a retry hours later must not unsubscribe in Shopify someone who has just resubscribed.
"""

import http.client
import json
import logging
import time
import urllib.error
import urllib.request
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from conversations.models import ConsentEvent

from ..models import ConsentPush, Platform, PlatformCustomer

log = logging.getLogger(__name__)

UNSUBSCRIBED = "unsubscribed"
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]
CLAIM_LEASE = timedelta(minutes=5)
OPTED_IN_AGAIN = "cancelled: the shopper opted in again in Parley before Shopify was told"
BATCH = 20

# shopify.dev, GraphQL Admin API: customerSmsMarketingConsentUpdate (needs the write_customers scope).
MUTATION = """mutation customerSmsMarketingConsentUpdate($input: CustomerSmsMarketingConsentUpdateInput!) {
  customerSmsMarketingConsentUpdate(input: $input) {
    customer { id smsMarketingConsent { marketingState consentUpdatedAt } }
    userErrors { field message code }
  }
}"""


def consent_push_for_opt_out(sender, *, subscriber, consent_event, **signal) -> None:
    """(subscriber_opted_out) Queue telling Shopify, when it is connected and knows the customer."""
    if not settings.SHOPIFY_ADMIN_API_TOKEN or consent_event.source == ConsentEvent.Source.SHOPIFY:
        return
    customers = PlatformCustomer.objects.filter(subscriber=subscriber, platform=Platform.SHOPIFY)
    _queue(list(customers), decided_at=consent_event.occurred_at)


def consent_push_for_link(*, customer: PlatformCustomer, subscriber) -> ConsentPush | None:
    """A Shopify customer newly linked to a subscriber who opted out in Parley before: queue telling Shopify.

    The opt-out's time is the number's last opt-out record's (its subscriber's opt-out time if it has none). None
    when the Admin API is not configured or the customer is not Shopify's.
    """
    if not settings.SHOPIFY_ADMIN_API_TOKEN or customer.platform != Platform.SHOPIFY:
        return None
    last_opt_out = (
        ConsentEvent.objects.filter(phone=subscriber.phone, kind=ConsentEvent.Kind.OPT_OUT)
        .order_by("-occurred_at", "-id")
        .values_list("occurred_at", flat=True)
        .first()
    )
    [push] = _queue([customer], decided_at=last_opt_out or subscriber.opted_out_at or timezone.now())
    return push


def consent_pushes_cancel_on_opt_in(sender, *, subscriber, **signal) -> None:
    """(subscriber_opted_in) The shopper opted in again: what still waits to unsubscribe them in Shopify is cancelled.

    A push being sent at this moment is cancelled too; if Shopify takes it all the same, its row says so.
    """
    cancelled = ConsentPush.objects.filter(
        customer__subscriber=subscriber, customer__platform=Platform.SHOPIFY, status=ConsentPush.Status.PENDING
    ).update(
        status=ConsentPush.Status.CANCELLED,
        done_at=timezone.now(),
        last_error=OPTED_IN_AGAIN,
    )
    if cancelled:
        log.info("%s Shopify consent push(es) cancelled: subscriber %s opted in again", cancelled, subscriber.pk)


def _queue(customers: list[PlatformCustomer], *, decided_at) -> list[ConsentPush]:
    """One push per customer, due now, and (after the commit) one task each to send it."""
    now = timezone.now()
    pushes = [
        ConsentPush.objects.create(customer=customer, state=UNSUBSCRIBED, decided_at=decided_at, next_attempt_at=now)
        for customer in customers
    ]
    if pushes and settings.SMS_KICK_WORKER:
        from django_q.tasks import async_task

        def kick(ids=tuple(push.pk for push in pushes)):
            for push_id in ids:
                async_task("commerce.tasks.consent_push_send", push_id, task_name="shopify consent")

        transaction.on_commit(kick)
    return pushes


def consent_push_send(*, push_id: int) -> bool:
    """Send one push now if it is still waiting and due; True if Shopify took it."""
    now = timezone.now()
    lease = now + CLAIM_LEASE
    with transaction.atomic():
        push = (
            ConsentPush.objects.select_for_update(skip_locked=True)
            .filter(pk=push_id, status=ConsentPush.Status.PENDING, next_attempt_at__lte=now)
            .first()
        )
        if push is None:
            return False
        ConsentPush.objects.filter(pk=push.pk).update(next_attempt_at=lease)
    return _attempt(push, lease)


def consent_pushes_due(max_seconds: float = 20.0) -> str:
    """Send the pushes that are due (retries, and first tries whose task was lost), oldest first."""
    if not settings.SHOPIFY_ADMIN_API_TOKEN:
        return "Shopify's Admin API is not configured"
    deadline = time.monotonic() + max_seconds
    sent = tried = 0
    while time.monotonic() < deadline:
        now = timezone.now()
        lease = now + CLAIM_LEASE
        with transaction.atomic():
            due = list(
                ConsentPush.objects.filter(status=ConsentPush.Status.PENDING, next_attempt_at__lte=now)
                .select_for_update(skip_locked=True)
                .order_by("next_attempt_at", "id")[:BATCH]
            )
            ConsentPush.objects.filter(pk__in=[push.pk for push in due]).update(next_attempt_at=lease)
        for index, push in enumerate(due):
            if time.monotonic() >= deadline:  # out of time: the rest are due again at once, not at the lease's end
                rest = [other.pk for other in due[index:]]
                ConsentPush.objects.filter(pk__in=rest, next_attempt_at=lease).update(next_attempt_at=now)
                break
            tried += 1
            sent += _attempt(push, lease)
        if len(due) < BATCH:
            break
    return f"told Shopify {sent} of {tried} opt-outs"


def admin_api_url() -> str:
    if settings.SHOPIFY_ADMIN_API_URL:
        return settings.SHOPIFY_ADMIN_API_URL
    if not settings.SHOPIFY_SHOP_DOMAIN:
        return ""
    domain = settings.SHOPIFY_SHOP_DOMAIN.removeprefix("https://").strip("/")
    return f"https://{domain}/admin/api/{settings.SHOPIFY_ADMIN_API_VERSION}/graphql.json"


def _attempt(push: ConsentPush, lease) -> bool:
    if _opted_in_since(push):  # the opt-in's signal was lost, or the opt-in came another way: never sent now
        ConsentPush.objects.filter(pk=push.pk, status=ConsentPush.Status.PENDING, next_attempt_at=lease).update(
            status=ConsentPush.Status.CANCELLED, done_at=timezone.now(), last_error=OPTED_IN_AGAIN
        )
        log.info("Shopify consent push %s cancelled: the subscriber opted in again since", push.pk)
        return False
    push.attempts += 1
    error = _tell_shopify(push)
    now = timezone.now()
    push.last_error = error
    if not error:
        push.status, push.done_at = ConsentPush.Status.DONE, now
    elif push.attempts > len(RETRY_DELAYS):
        push.status = ConsentPush.Status.FAILED
    else:
        push.next_attempt_at = now + RETRY_DELAYS[push.attempts - 1]
    # Only while this worker still holds the claim (a slower worker's result never overwrites a newer one) and the
    # push still waits (one cancelled meanwhile, by an opt-in, is never made pending again).
    fields = ["attempts", "status", "last_error", "next_attempt_at", "done_at"]
    kept = ConsentPush.objects.filter(pk=push.pk, status=ConsentPush.Status.PENDING, next_attempt_at=lease).update(
        **{name: getattr(push, name) for name in fields}
    )
    if not kept:
        if not error and ConsentPush.objects.filter(pk=push.pk, status=ConsentPush.Status.CANCELLED).update(
            attempts=push.attempts,
            last_error="cancelled while it was being sent, yet Shopify took it: the customer is unsubscribed there",
        ):
            log.warning("Shopify consent push %s was cancelled while it was sent; Shopify took it", push.pk)
        return False
    if not error:
        log.info("Shopify consent push %s: customer %s unsubscribed", push.pk, push.customer_id)
    elif push.status == ConsentPush.Status.FAILED:
        log.warning("Shopify consent push %s failed for good after %s attempts: %s", push.pk, push.attempts, error)
    else:
        log.warning("Shopify consent push %s failed (attempt %s), tried again later: %s", push.pk, push.attempts, error)
    return push.status == ConsentPush.Status.DONE


def _opted_in_since(push: ConsentPush) -> bool:
    """Whether the number's last consent word in Parley is an opt-in made after the push's opt-out."""
    phone = PlatformCustomer.objects.filter(pk=push.customer_id).values_list("subscriber__phone", flat=True).first()
    if not phone:
        return False
    last = (
        ConsentEvent.objects.filter(phone=phone, kind__in=[ConsentEvent.Kind.OPT_IN, ConsentEvent.Kind.OPT_OUT])
        .order_by("-occurred_at", "-id")
        .values_list("kind", "occurred_at")
        .first()
    )
    return last is not None and last[0] == ConsentEvent.Kind.OPT_IN and last[1] > push.decided_at


def _tell_shopify(push: ConsentPush) -> str:
    """Send the mutation; "" when Shopify took it, else what went wrong (no phone number in it)."""
    url = admin_api_url()
    if not url:
        return "set SHOPIFY_SHOP_DOMAIN (or SHOPIFY_ADMIN_API_URL): Parley does not know where the Admin API is"
    customer_id = PlatformCustomer.objects.filter(pk=push.customer_id).values_list("external_id", flat=True).first()
    variables = {
        "input": {
            "customerId": f"gid://shopify/Customer/{customer_id}",
            "smsMarketingConsent": {
                "marketingState": push.state.upper(),
                "consentUpdatedAt": push.decided_at.isoformat(),
            },
        }
    }
    request = urllib.request.Request(
        url,
        data=json.dumps({"query": MUTATION, "variables": variables}).encode(),
        method="POST",
        headers={
            "Content-Type": "application/json",
            "Accept": "application/json",
            "User-Agent": "Parley",
            "X-Shopify-Access-Token": settings.SHOPIFY_ADMIN_API_TOKEN,
        },
    )
    try:
        with urllib.request.urlopen(request, timeout=settings.SHOPIFY_ADMIN_TIMEOUT_SECONDS) as response:
            answer = json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as failure:
        return f"Shopify answered HTTP {failure.code}"
    except (OSError, ValueError, http.client.HTTPException) as failure:  # refused, timed out, not JSON, no HTTP
        return str(failure)[:500] or failure.__class__.__name__
    if not isinstance(answer, dict):
        return "Shopify's answer is not a JSON object"
    if answer.get("errors"):  # throttled, a wrong query, no access to the customer
        return f"Shopify answered with errors: {_messages(answer['errors'])}"
    result = (answer.get("data") or {}).get("customerSmsMarketingConsentUpdate")
    if not isinstance(result, dict):
        return "Shopify's answer holds no customerSmsMarketingConsentUpdate"
    if result.get("userErrors"):
        return f"Shopify refused it: {_messages(result['userErrors'])}"
    return ""


def _messages(errors) -> str:
    if isinstance(errors, list):
        return "; ".join(
            str(error.get("message", error)) if isinstance(error, dict) else str(error) for error in errors
        )[:500]
    return str(errors)[:500]


__all__ = [
    "admin_api_url",
    "consent_push_for_link",
    "consent_push_for_opt_out",
    "consent_push_send",
    "consent_pushes_cancel_on_opt_in",
    "consent_pushes_due",
]
