"""Writes: create, change and delete segments, and the demo segments."""

from contextlib import contextmanager

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction

from conversations import event_types

from .models import Segment
from .rules import RuleContext, rules_clean, segment_references


def _check_name(name: str, exclude_id: int | None = None) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": ["give the segment a name"]})
    if len(name) > 100:
        raise ValidationError({"name": ["at most 100 characters"]})
    if Segment.objects.filter(name__iexact=name).exclude(pk=exclude_id).exists():
        raise ValidationError({"name": [f"there is already a segment called {name!r}"]})
    return name


def _clean_rules(rules, segment_id: int | None, definitions=None):
    try:
        return rules_clean(rules, RuleContext.current(segment_id=segment_id, definitions=definitions))
    except ValidationError as error:
        raise ValidationError({"rules": error.messages}) from None


def rules_check(*, rules, segment_id: int | None = None, definitions=None) -> dict:
    """The rules with values in stored form, or a ValidationError under `rules` naming every problem."""
    return _clean_rules(rules, segment_id, definitions)


def segment_create(*, name: str, rules, description: str = "", user=None) -> Segment:
    """Create a segment after checking its name and rules; raises ValidationError naming every problem."""
    name = _check_name(name)
    cleaned = _clean_rules(rules, None)
    with _name_taken_at_once(name):
        return Segment.objects.create(name=name, description=description or "", rules=cleaned, created_by=user)


def segment_update(*, segment: Segment, name: str | None = None, description: str | None = None, rules=None) -> Segment:
    """Change the given fields of a segment; a rule that leads back to the segment itself is refused."""
    if name is not None:
        segment.name = _check_name(name, exclude_id=segment.pk)
    if description is not None:
        segment.description = description
    if rules is not None:
        segment.rules = _clean_rules(rules, segment.pk)
    with _name_taken_at_once(segment.name):
        segment.save()
    return segment


@contextmanager
def _name_taken_at_once(name: str):
    """The same name saved by two requests at once: the loser gets the sequential case's error, not a 500."""
    try:
        with transaction.atomic():
            yield
    except IntegrityError:
        if not Segment.objects.filter(name__iexact=name).exists():
            raise  # another constraint: not the name
        raise ValidationError({"name": [f"there is already a segment called {name!r}"]}) from None


def segments_using(segment: Segment) -> list[Segment]:
    """The other segments whose rules refer to `segment`."""
    return [
        other
        for other in Segment.objects.exclude(pk=segment.pk).only("id", "name", "rules")
        if segment.pk in segment_references(other.rules)
    ]


def segment_delete(*, segment: Segment) -> None:
    """Delete a segment, unless another segment's rules refer to it."""
    with transaction.atomic():
        users = segments_using(segment)
        if users:
            names = ", ".join(repr(other.name) for other in users)
            raise ValidationError(f"{segment.name!r} is used by the segment(s) {names}; change those rules first")
        segment.delete()


DEMO_SEGMENTS = [
    ("Vegans", "Said their diet is vegan.", {"attribute": "diet", "op": "contains", "value": "vegan"}),
    (
        "Buying a gift",
        "Shopping for someone else.",
        {"attribute": "gift_recipient", "op": "in", "value": ["partner", "parent", "child", "friend", "other"]},
    ),
    (
        "Size M never purchased",
        "Wear a medium and have not ordered yet.",
        {
            "all": [
                {"attribute": "size", "op": "eq", "value": "M"},
                {"event": event_types.ORDER_PLACED, "op": "not_happened"},
            ]
        },
    ),
    (
        "Prefers tiered offers",
        "Answered that tiered offers suit them best.",
        {"attribute": "offer_preference", "op": "eq", "value": "tiered"},
    ),
    (
        "Sensitive skin engaged in the last 30 days",
        "Sensitive skin, and replied or clicked in the last 30 days.",
        {
            "all": [
                {"attribute": "skin_type", "op": "eq", "value": "sensitive"},
                {
                    "any": [
                        {"engagement": "replied", "within_days": 30},
                        {"engagement": "clicked", "within_days": 30},
                    ]
                },
            ]
        },
    ),
]


def demo_segments_load() -> list[str]:
    """Create the demo segments that are missing (for seed_demo); returns the names added."""
    added = []
    for name, description, rules in DEMO_SEGMENTS:
        if not Segment.objects.filter(name=name).exists():
            segment_create(name=name, description=description, rules=rules)
            added.append(name)
    return added
