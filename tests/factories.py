import datetime

import factory
from django.contrib.auth import get_user_model

from conversations import services
from conversations.models import Event, Message, Subscriber


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ["username"]

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.com")
    password = factory.django.Password("a-long-test-password")


class SubscriberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Subscriber

    # 555-01xx numbers are reserved for fiction; vary the area code to get more of them.
    phone = factory.Sequence(lambda n: f"+1{[212, 415, 312, 305, 512][n % 5]}55501{n // 5 % 100:02d}")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    time_zone = "America/New_York"
    status = Subscriber.Status.SUBSCRIBED


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    subscriber = factory.SubFactory(SubscriberFactory)
    direction = Message.Direction.OUTBOUND
    body = "Hello from the store"
    status = Message.Status.DELIVERED
    origin = Message.Origin.SYSTEM


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    subscriber = factory.SubFactory(SubscriberFactory)
    type = "order_placed"
    properties = factory.Dict({"total": 42.5})
    occurred_at = factory.Faker("date_time_this_year", tzinfo=datetime.UTC)


def api_key_for(user, name: str = "tests") -> str:
    """The key of a new API token for `user`: what a client sends as `Authorization: Token <key>`."""
    return services.api_token_create(user=user, name=name)[1]
