"""The phone numbers a payload holds, as Parley keeps numbers: the platforms' payloads list several."""

from django.core.exceptions import ValidationError

from conversations.phones import normalize_phone


def phones_normalize(phones: tuple[tuple[str, str], ...]) -> tuple[list[str], list[str]]:
    """(the numbers that parse, in the order given; why each other does not), from (where, as typed) pairs.

    A reason names where the number came from ("the billing address phone"), never the number as typed.
    """
    numbers, problems = [], []
    for source, raw in phones:
        try:
            numbers.append(normalize_phone(raw))
        except ValidationError as error:
            problems.append(error.messages[0].replace(repr(raw), f"the {source} phone", 1))
    return numbers, problems
