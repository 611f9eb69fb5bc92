"""The baseline of B1."""

import json

from django.http import JsonResponse
from django.views.decorators.csrf import csrf_exempt

from conversations.models import Message, Subscriber

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
