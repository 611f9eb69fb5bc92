from datetime import UTC, datetime

import pytest
from django.utils import timezone

from conversations.models import AttributeDefinition
from segments.services import segment_create
from tests.factories import SubscriberFactory

# A Tuesday to come, 18:00 UTC: 13:00 in New York and 10:00 in Los Angeles, inside every marketing window;
# after the moment the tests create their subscribers, as the real clock would be.
DAYTIME = datetime(2027, 1, 5, 18, 0, tzinfo=UTC)


@pytest.fixture
def daytime(monkeypatch):
    """The clock stopped at DAYTIME. Ask for it before logging in: a session made before the jump has expired."""
    monkeypatch.setattr(timezone, "now", lambda: DAYTIME)
    return DAYTIME


@pytest.fixture
def diet(db):
    definition, _ = AttributeDefinition.objects.update_or_create(
        key="diet",
        defaults={
            "label": "Diet",
            "type": "single_choice",
            "options": [{"value": "vegan", "label": "Vegan"}, {"value": "none", "label": "No preference"}],
        },
    )
    return definition


@pytest.fixture
def vegans(diet):
    return segment_create(name="Vegans", rules={"all": [{"attribute": "diet", "op": "eq", "value": "vegan"}]})


@pytest.fixture
def gift_buyers(db):
    return segment_create(name="Buying a gift", rules={"all": [{"tag": "gift"}]})


@pytest.fixture
def vegan_people(vegans):
    """Twenty subscribed vegans, the first five also buying a gift."""
    from conversations.models import Tag

    gift = Tag.objects.create(name="gift")
    people = [
        SubscriberFactory(attributes={"diet": "vegan"}, first_name=name)
        for name in ["Ana", "Bo", "Cy", "Di", "Ed", "Flo", "Gus", "Hal", "Ivy", "Jo"] * 2
    ]
    for person in people[:5]:
        person.tags.add(gift)
    return people
