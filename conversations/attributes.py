"""Validation of zero-party attribute values against their definitions.

Pure functions: a definition and a value in, the value to store out, or a
ValidationError whose message a store's staff can act on.
"""

import datetime
import math
import re

from django.core.exceptions import ValidationError

from .models import ATTRIBUTE_KEY_RE, AttributeDefinition

MAX_TEXT_LENGTH = 500
MAX_NUMBER = 1e15  # far beyond any answer, and exact as a float
_NUMBER_TEXT = re.compile(r"^[-+]?(\d+(\.\d*)?|\.\d+)([eE][-+]?\d+)?$")
_DATE_TEXT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_YES = {"yes", "y", "true", "1"}
_NO = {"no", "n", "false", "0"}

Type = AttributeDefinition.Type


def clean_value(definition: AttributeDefinition, value):
    """Return `value` in the form stored for `definition`, or raise ValidationError naming the key."""
    key = definition.key
    cleaner = _CLEANERS[definition.type]
    return cleaner(definition, key, value)


def _choice(definition, key, value) -> str:
    if not isinstance(value, str):
        raise ValidationError(f"{key} must be one of {_choices_text(definition)} (got {value!r})")
    by_folded = {option_value.casefold(): option_value for option_value in definition.option_values}
    canonical = by_folded.get(value.strip().casefold())
    if canonical is None:
        raise ValidationError(f"{key} must be one of {_choices_text(definition)} (got {value!r})")
    return canonical


def _multiple_choice(definition, key, value) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise ValidationError(f"{key} must be a non-empty list of {_choices_text(definition)} (got {value!r})")
    chosen = {_choice(definition, key, item) for item in value}
    # Stored in the definition's order, so equal answers are equal JSON.
    return [option_value for option_value in definition.option_values if option_value in chosen]


def _text(definition, key, value) -> str:
    if not isinstance(value, str) or not value.strip():
        raise ValidationError(f"{key} must be non-empty text (got {value!r})")
    if "\x00" in value:
        raise ValidationError(f"{key} must not contain NUL characters")
    if len(value) > MAX_TEXT_LENGTH:
        raise ValidationError(f"{key} must be at most {MAX_TEXT_LENGTH} characters (got {len(value)})")
    return value.strip()


def _number(definition, key, value) -> int | float:
    if isinstance(value, str):
        if not _NUMBER_TEXT.match(value.strip()):
            raise ValidationError(f"{key} must be a number (got {value!r})")
        value = float(value.strip())
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValidationError(f"{key} must be a number (got {value!r})")
    if isinstance(value, float) and not math.isfinite(value) or abs(value) > MAX_NUMBER:
        raise ValidationError(f"{key} must be a number between -{MAX_NUMBER:g} and {MAX_NUMBER:g}")
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    return value


def _date(definition, key, value) -> str:
    if isinstance(value, str) and _DATE_TEXT.match(value.strip()):
        try:
            return datetime.date.fromisoformat(value.strip()).isoformat()
        except ValueError:
            pass
    raise ValidationError(f"{key} must be a date written YYYY-MM-DD (got {value!r})")


def _yes_no(definition, key, value) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().casefold() in _YES | _NO:
        return value.strip().casefold() in _YES
    raise ValidationError(f"{key} must be yes or no (got {value!r})")


_CLEANERS = {
    Type.SINGLE_CHOICE: _choice,
    Type.MULTIPLE_CHOICE: _multiple_choice,
    Type.TEXT: _text,
    Type.NUMBER: _number,
    Type.DATE: _date,
    Type.YES_NO: _yes_no,
}


def _choices_text(definition) -> str:
    values = definition.option_values
    if len(values) <= 1:
        return ", ".join(values)
    return ", ".join(values[:-1]) + " or " + values[-1]


def validate_definition(*, key: str, type: str, options) -> dict[str, list[str]]:
    """Errors in a definition, by field; empty when it is valid."""
    errors: dict[str, list[str]] = {}
    if not isinstance(key, str) or not ATTRIBUTE_KEY_RE.fullmatch(key):
        errors["key"] = [
            f"key must start with a lower-case letter and hold only a-z, 0-9 and single inner underscores (got {key!r})"
        ]
    if type not in Type.values:
        errors["type"] = [f"type must be one of {', '.join(Type.values)} (got {type!r})"]
        return errors
    if type not in AttributeDefinition.CHOICE_TYPES:
        if options:
            errors["options"] = [f"options are only for choice attributes, not {type}"]
        return errors
    problems = []
    if not isinstance(options, list) or not options:
        problems.append("a choice attribute needs at least one option")
    else:
        seen: dict[str, str] = {}
        for index, option in enumerate(options, start=1):
            if not isinstance(option, dict) or not isinstance(option.get("value"), str) or not option["value"].strip():
                problems.append(f"option {index} needs a text value")
                continue
            if not isinstance(option.get("label"), str) or not option["label"].strip():
                problems.append(f"option {index} ({option['value']}) needs a label")
            synonyms = option.get("synonyms", [])
            if not isinstance(synonyms, list) or not all(isinstance(s, str) for s in synonyms):
                problems.append(f"option {index} ({option['value']}): synonyms must be a list of text")
                continue
            for word in [option["value"], *synonyms]:
                folded = word.strip().casefold()
                if folded in seen and seen[folded] != option["value"]:
                    problems.append(f"{word!r} is used by both {seen[folded]} and {option['value']}")
                seen[folded] = option["value"]
    if problems:
        errors["options"] = problems
    return errors
