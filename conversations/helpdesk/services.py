"""The store's help desk: signed webhook deliveries with retries, each delivery kept as a log row.

`helpdesk_notify` writes a `HelpdeskDelivery` in the caller's transaction (nothing is lost when the help desk
is down); `helpdesk_deliver_due`, run by the worker, POSTs due deliveries and retries failures with backoff.
The body is JSON; `X-Parley-Signature: sha256=<hex>` is the HMAC-SHA256 of the raw body under
HELPDESK_WEBHOOK_SECRET, so the help desk can check it came from us. Everything a receiver acts on is inside the
signed body, never only in a header: the event, the delivery id (to drop a repeat) and `sent_at`, the time of
this attempt (to refuse a captured request replayed later, e.g. older than five minutes).
"""

import hashlib
import hmac
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

from ..models import Conversation, HelpdeskDelivery

log = logging.getLogger(__name__)

# Wait before each retry: 1 min, 5 min, 30 min, 2 h, 6 h; then the delivery has failed for good.
RETRY_DELAYS = [
    timedelta(minutes=1),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=6),
]
DELIVERY_BATCH = 50
CLAIM_LEASE = timedelta(minutes=5)


def helpdesk_notify(event: str, conversation: Conversation, data: dict) -> HelpdeskDelivery | None:
    """Queue a webhook delivery of `event` when a help desk is configured; None otherwise."""
    if not settings.HELPDESK_WEBHOOK_URL:
        return None
    subscriber = conversation.subscriber
    payload = {
        "event": event,
        "conversation": {
            "id": conversation.pk,
            "status": conversation.status,
            "subscriber": {
                "id": subscriber.pk,
                "phone": subscriber.phone,
                "first_name": subscriber.first_name,
                "last_name": subscriber.last_name,
                "status": subscriber.status,
                "attributes": subscriber.attributes,
            },
        },
        **data,
    }
    delivery = HelpdeskDelivery.objects.create(
        event=event, conversation=conversation, payload=payload, next_attempt_at=timezone.now()
    )
    if settings.SMS_KICK_WORKER:
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("conversations.tasks.helpdesk_deliver", task_name="help desk"))
    return delivery


def helpdesk_signature(body: bytes, secret: str) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def helpdesk_deliver_due(max_seconds: float = 20.0) -> int:
    """POST every due delivery, oldest first; returns how many were delivered.

    A batch is claimed in a short transaction (SKIP LOCKED, and a lease: its next attempt moves 5 minutes on),
    then posted outside any transaction, so no lock is held while a help desk is slow. A worker that dies
    mid-batch leaves the rest to be tried when the lease ends: delivery is at least once, and the
    `X-Parley-Delivery` id lets the help desk drop a repeat.
    """
    if not settings.HELPDESK_WEBHOOK_URL:
        return 0
    deadline = time.monotonic() + max_seconds
    delivered = 0
    # No more in a batch than can be tried, each at its full timeout, before the lease ends.
    batch = max(1, min(DELIVERY_BATCH, int(CLAIM_LEASE.total_seconds() // (2 * settings.HELPDESK_TIMEOUT_SECONDS))))
    while time.monotonic() < deadline:
        now = timezone.now()
        lease = now + CLAIM_LEASE
        with transaction.atomic():
            due = list(
                HelpdeskDelivery.objects.filter(status=HelpdeskDelivery.Status.PENDING, next_attempt_at__lte=now)
                .select_for_update(skip_locked=True)
                .order_by("next_attempt_at", "id")[:batch]
            )
            HelpdeskDelivery.objects.filter(pk__in=[d.pk for d in due]).update(next_attempt_at=lease)
        for index, delivery in enumerate(due):
            if time.monotonic() >= deadline:  # out of time: give the rest back at once instead of at the lease end
                HelpdeskDelivery.objects.filter(pk__in=[d.pk for d in due[index:]], next_attempt_at=lease).update(
                    next_attempt_at=now
                )
                return delivered
            delivery.next_attempt_at = lease
            delivered += _attempt(delivery, lease)
        if len(due) < batch:
            break
    return delivered


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """A redirect would turn the POST into a GET without the body: it counts as a failed attempt instead."""

    def redirect_request(self, request, fp, code, msg, headers, newurl):
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


def _attempt(delivery: HelpdeskDelivery, lease) -> int:
    sent_at = timezone.now().isoformat(timespec="seconds")
    body = json.dumps({"delivery": delivery.pk, "sent_at": sent_at, **delivery.payload}, separators=(",", ":"))
    body = body.encode()
    request = urllib.request.Request(
        settings.HELPDESK_WEBHOOK_URL,
        data=body,
        method="POST",
        headers={
            "Content-Type": "application/json",
            "User-Agent": "Parley-Helpdesk/1",
            "X-Parley-Event": delivery.event,
            "X-Parley-Delivery": str(delivery.pk),
            "X-Parley-Signature": helpdesk_signature(body, settings.HELPDESK_WEBHOOK_SECRET),
        },
    )
    delivery.attempts += 1
    try:
        with _OPENER.open(request, timeout=settings.HELPDESK_TIMEOUT_SECONDS) as response:
            code, error = response.status, ""
    except urllib.error.HTTPError as failure:
        code, error = failure.code, f"HTTP {failure.code}"
    except (OSError, ValueError, http.client.HTTPException) as failure:  # refused, timed out, DNS, a bad URL, no HTTP
        code, error = None, str(failure)[:500] or failure.__class__.__name__
    delivery.last_status_code, delivery.last_error = code, error
    if code is not None and 200 <= code < 300:
        delivery.status, delivery.delivered_at = HelpdeskDelivery.Status.DELIVERED, timezone.now()
    elif delivery.attempts > len(RETRY_DELAYS):
        delivery.status = HelpdeskDelivery.Status.FAILED
        log.warning("help-desk delivery %s failed for good: %s", delivery.pk, error)
    else:
        delivery.next_attempt_at = timezone.now() + RETRY_DELAYS[delivery.attempts - 1]
    # Only while this worker still holds the lease: a slower worker's result never overwrites a newer one.
    fields = ["attempts", "status", "last_status_code", "last_error", "next_attempt_at", "delivered_at"]
    kept = HelpdeskDelivery.objects.filter(pk=delivery.pk, next_attempt_at=lease).update(
        **{name: getattr(delivery, name) for name in fields}
    )
    return 1 if kept and delivery.status == HelpdeskDelivery.Status.DELIVERED else 0


__all__ = ["helpdesk_deliver_due", "helpdesk_notify", "helpdesk_signature"]
