"""Reads that are more than one line."""

from .models import AttributeDefinition, Subscriber


def attribute_rows_for(subscriber: Subscriber, definitions: list[AttributeDefinition] | None = None) -> list[dict]:
    """The subscriber's attributes as rows for display: label, stored value and the value's label."""
    if definitions is None:
        definitions = list(AttributeDefinition.objects.all())
    by_key = {definition.key: definition for definition in definitions}
    rows = []
    for key, value in sorted(subscriber.attributes.items()):
        definition = by_key.get(key)
        values = value if isinstance(value, list) else [value]
        shown = ", ".join(definition.option_label(v) if definition else str(v) for v in values)
        rows.append({"key": key, "label": definition.label if definition else key, "value": value, "shown": shown})
    return rows
