"""The baseline of B1 and the stand-in flow step."""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from conversations.models import Message, Subscriber
from conversations.services import subscriber_attributes_set

_subscriber_id = None


@csrf_exempt
def bare_insert(request):
    """B1's baseline: a bare Django view that parses the same JSON and does one INSERT."""
    global _subscriber_id
    if _subscriber_id is None:
        _subscriber_id = Subscriber.objects.values_list("id", flat=True).first()
    data = json.loads(request.body)
    message = Message.objects.create(
        subscriber_id=_subscriber_id, direction="inbound", body=data["body"], status="received", origin="subscriber"
    )
    return JsonResponse({"id": message.pk}, status=201)


def answer_size(inbound) -> bool:
    """A flow step's work: save the answer as zero-party data, then queue a personal reply."""
    size = inbound.text.strip().upper()
    subscriber_attributes_set(
        subscriber=inbound.subscriber, changes={"size": size}, source="flow", reference="benchmark"
    )
    inbound.reply(f"Thanks {inbound.subscriber.first_name or 'there'}! We'll show you size {size} first.")
    return True
