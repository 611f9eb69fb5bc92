"""Starting a flow for every member of a segment: queued by the store, worked through in batches by the worker."""

import logging
import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from segments.compiler import rules_queryset
from segments.models import Segment
from segments.rules import rules_expanded

from ..models import Flow, FlowLaunch
from .runs import run_start

log = logging.getLogger(__name__)


# --- Starting a flow for a segment --------------------------------------------------------------------------

LAUNCH_BATCH = 200


def flow_launch(*, flow: Flow, segment, user=None) -> FlowLaunch:
    """Queue the start of `flow` for every member of `segment` as of now; the worker starts the runs in batches."""
    if flow.status != Flow.Status.ACTIVE or flow.live_version is None:
        raise ValidationError(f"{flow.name} is not active: publish it before starting it for a segment")
    now = timezone.now()
    # The audience is fixed now: the rules are copied with the segments they use written out in full.
    rules = rules_expanded(
        segment.rules, lambda pk: Segment.objects.filter(pk=pk).values_list("rules", flat=True).first()
    )
    audience = rules_queryset(rules, now=now).count()
    try:
        with transaction.atomic():
            launch = FlowLaunch.objects.create(
                flow=flow,
                segment=segment,
                segment_name=segment.name,
                rules=rules,
                audience=audience,
                requested_by=user,
                created_at=now,
            )
    except IntegrityError:  # a second click while the first launch is still going
        raise ValidationError(f"{flow.name} is already being started for {segment.name}") from None
    if settings.SMS_KICK_WORKER:
        from django_q.tasks import async_task

        transaction.on_commit(lambda: async_task("flows.tasks.launches_process", task_name="start flow for segment"))
    return launch


def launches_process_due(max_seconds: float = 25.0, batch_size: int = LAUNCH_BATCH) -> int:
    """Start runs for queued launches, a batch per transaction with its cursor, until done or out of time."""
    deadline = time.monotonic() + max_seconds
    started = 0
    while True:
        with transaction.atomic():
            launch = (
                FlowLaunch.objects.filter(status=FlowLaunch.Status.QUEUED)
                .select_for_update(skip_locked=True)
                .select_related("flow")
                .order_by("id")
                .first()
            )
            if launch is None:
                return started
            started += _launch_batch(launch, batch_size)
        if time.monotonic() >= deadline:
            return started


def _launch_batch(launch: FlowLaunch, batch_size: int) -> int:
    flow = launch.flow
    if flow.status != Flow.Status.ACTIVE or flow.live_version is None:
        return _launch_end(launch, FlowLaunch.Status.CANCELLED, f"{flow.name} was deactivated")
    try:
        members = rules_queryset(launch.rules, now=launch.created_at)
    except ValidationError as error:
        return _launch_end(launch, FlowLaunch.Status.CANCELLED, "; ".join(error.messages))
    batch = list(
        members.filter(pk__gt=launch.last_subscriber_id, created_at__lte=launch.created_at)
        .order_by("pk")
        .prefetch_related("tags")[:batch_size]
    )
    started = 0
    for subscriber in batch:
        try:
            with transaction.atomic():  # one shopper's failure must not stop the launch for everyone
                if run_start(flow=flow, subscriber=subscriber, trigger="segment") is not None:
                    started += 1
        except Exception:  # noqa: BLE001 - logged and counted as skipped; the cursor moves on
            log.exception("launch %s: could not start %s for subscriber %s", launch.pk, flow.name, subscriber.pk)
    launch.started += started
    launch.skipped += len(batch) - started
    if batch:
        launch.last_subscriber_id = batch[-1].pk
    if len(batch) < batch_size:
        _launch_end(launch, FlowLaunch.Status.DONE, "")
    else:
        launch.save(update_fields=["started", "skipped", "last_subscriber_id"])
    return started


def _launch_end(launch: FlowLaunch, status: str, reason: str) -> int:
    launch.status, launch.end_reason, launch.finished_at = status, reason, timezone.now()
    launch.save(update_fields=["status", "end_reason", "finished_at", "started", "skipped", "last_subscriber_id"])
    return 0
