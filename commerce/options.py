"""A variant's options as the attributes Parley asks shoppers about: Size "Medium" is `size` = `M`.

Pure: the store's choice attributes (key, label, options with labels and synonyms) and a variant's (name, value)
pairs in, `{attribute key: option value}` out. An option is matched to the attribute its name names (the key or
the label: "Size" is `size`); an option whose name names no attribute is matched by its value alone when exactly
one attribute has an option that means it. Values mean an option when they equal, ignoring case, accents, spaces
and punctuation, the option's value, its label or one of its synonyms.
"""

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NOT_WORD = re.compile(r"[\W_]+")


def fold(text: str) -> str:
    """ "X-Large", "x large" and "XLarge" all fold to "xlarge"."""
    text = unicodedata.normalize("NFKD", text.casefold())
    text = "".join(char for char in text if not unicodedata.combining(char))
    return _NOT_WORD.sub("", text)


@dataclass(frozen=True)
class ChoiceAttribute:
    key: str
    names: frozenset[str]  # folded key and label
    meanings: dict  # folded word -> option value

    @classmethod
    def from_definition(cls, key: str, label: str, options: Sequence[dict]) -> "ChoiceAttribute":
        meanings = {}
        for option in options:
            value = option.get("value")
            if not isinstance(value, str) or not value.strip():
                continue
            words = [value, option.get("label") or "", *(option.get("synonyms") or [])]
            for word in words:
                if isinstance(word, str) and fold(word):
                    meanings.setdefault(fold(word), value)
        return cls(key=key, names=frozenset(name for name in (fold(key), fold(label)) if name), meanings=meanings)


def choice_attributes(definitions: Iterable) -> list[ChoiceAttribute]:
    """From AttributeDefinition rows (or anything with key, label, options) of the choice types."""
    return [ChoiceAttribute.from_definition(d.key, d.label, d.options or []) for d in definitions]


def match_options(options: Iterable[tuple[str, str]], attributes: Sequence[ChoiceAttribute]) -> dict[str, str]:
    """{attribute key: option value} for the variant options that mean an attribute's option."""
    matched: dict[str, str] = {}
    unnamed = []
    for name, value in options:
        named = [attribute for attribute in attributes if fold(name) in attribute.names]
        if not named:
            unnamed.append(value)
            continue
        for attribute in named:
            meaning = attribute.meanings.get(fold(value))
            if meaning is not None:
                matched.setdefault(attribute.key, meaning)
    for value in unnamed:
        candidates = [
            attribute for attribute in attributes if attribute.key not in matched and fold(value) in attribute.meanings
        ]
        if len(candidates) == 1:
            matched[candidates[0].key] = candidates[0].meanings[fold(value)]
    return matched
