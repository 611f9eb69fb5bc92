"""Turn a shopper's free-text reply into an answer: the matching layers shared by the engine, the simulator
and the inbox.

Pure code. Layers, in order, each tried only when the one before found nothing:

1. the whole reply is an option's value, label or synonym (case, accents, punctuation, emoji and spacing
   ignored): "M", " Medium ", "x-large", "L!";
2. option words found inside the reply, once filler is set aside (courtesy and hedge words, articles,
   possessives, the question's own nouns): "medium please", "dry i think", "a gift for my wife",
   "sensitive skin";
3. numbered options, when the reply is only numbers: "3", "#3", "1 and 3";
4. typos, with rapidfuzz, for words of four letters or more: "mediun", "vegetarain".

A single-choice question takes exactly one option: "S and M" is no answer, so the question's `other` path
re-asks. A multiple-choice question takes every option named: "vegan, gluten free", "GF and dairy free".
"""

import re
import unicodedata
from dataclasses import dataclass
from datetime import date

from rapidfuzz import fuzz, process

FUZZY_THRESHOLD = 80  # rapidfuzz ratio, 0-100
FUZZY_MIN_LENGTH = 4  # never guess at short words: "idk" must not become "ink"

FILLER = frozenset(
    """
    please pls plz thanks thank thx ty you ok okay um uh hmm well so just
    i im i'm me my mine its it's it is am are be the a an for of to in on with at
    think guess maybe probably prob usually normally mostly generally like kinda sort of type
    size wear wearing answer option choice number num nr would say definitely def for sure gift buying shopping
    """.split()
)
ORDINALS = {
    word: number
    for number, words in enumerate(
        [
            ("first", "1st"),
            ("second", "2nd"),
            ("third", "3rd"),
            ("fourth", "4th"),
            ("fifth", "5th"),
            ("sixth", "6th"),
            ("seventh", "7th"),
            ("eighth", "8th"),
            ("ninth", "9th"),
            ("tenth", "10th"),
        ],
        start=1,
    )
    for word in words
}
CARDINALS = {
    word: number for number, word in enumerate("one two three four five six seven eight nine ten".split(), start=1)
}
SEPARATORS = re.compile(r"\s*(?:,|;|/|&|\+(?!\S)|\band\b|\bor\b|\bplus\b)\s*")
NEGATIONS = frozenset({"not", "no", "never", "don't", "dont", "isn't", "isnt"})
# Words that change an option they stand beside: "xtra large" is not large.
MODIFIERS = frozenset("x xx xxx xtra ex extra super very 2x 3x 4x plus petite tall big small".split())
YES_WORDS = frozenset(
    "yes y yeah yea yep yup ya sure ok okay absolutely definitely certainly correct right true".split()
)
NO_WORDS = frozenset("no n nope nah never false negative".split())
MONTHS = {
    name: index
    for index, names in enumerate(
        [
            ("jan", "january"),
            ("feb", "february"),
            ("mar", "march"),
            ("apr", "april"),
            ("may",),
            ("jun", "june"),
            ("jul", "july"),
            ("aug", "august"),
            ("sep", "sept", "september"),
            ("oct", "october"),
            ("nov", "november"),
            ("dec", "december"),
        ],
        start=1,
    )
    for name in names
}


@dataclass(frozen=True)
class Option:
    value: str
    label: str
    synonyms: tuple[str, ...] = ()


@dataclass(frozen=True)
class Answer:
    """What a reply matched: one value (single choice) or several in option order (multiple choice)."""

    value: str | list[str]
    how: str  # exact, words, number, fuzzy


def normalize(text: str) -> str:
    """Lower case, no accents, letters, digits, %, + and apostrophes only, single spaces."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    text = "".join(char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char))
    kept = []
    for char in text:
        category = unicodedata.category(char)
        if category[0] in "LN" or char in "%+'":
            kept.append(char)
        elif char in ",;/&":
            kept.append(f" {char} ")
        else:
            kept.append(" ")
    return " ".join("".join(kept).split()).strip("'")


def _terms(options: list[Option]) -> dict[str, str]:
    """Every way of naming an option, normalized, to the option's value."""
    terms: dict[str, str] = {}
    for option in options:
        for term in (option.value, option.label, *option.synonyms):
            normalized = normalize(term)
            if normalized:
                terms.setdefault(normalized, option.value)
    return terms


def match_choice(
    reply: str, options: list[Option], *, multiple: bool = False, question_words: tuple[str, ...] = ()
) -> Answer | None:
    """The option(s) a reply names, or None when it names none (or, for a single choice, more than one)."""
    text = normalize(reply)
    if not text or not options:
        return None
    terms = _terms(options)
    order = [option.value for option in options]
    if text in terms:
        return _answer([terms[text]], "exact", multiple, order)
    filler = FILLER | {normalize(word) for word in question_words}
    for layer in (_by_words, _by_numbers, _by_fuzzy):
        found = layer(text, terms, options, filler)
        if found:
            return _answer(found, layer.__name__.removeprefix("_by_"), multiple, order)
        if found is not None:  # the layer saw a clear answer it cannot accept ("S and M" for one choice)
            break
    return _leading_answer(reply, options, terms, multiple, question_words)


# An answer, punctuation, then a comment: "2 - it arrived broken", "M. Usually a medium", "vegan! mostly".
LEADING_ANSWER = re.compile(r"^\s*([^\s\-–—:,.!;()]+(?:\s+[^\s\-–—:,.!;()]+){0,2})\s*[-–—:,.!;)]+\s*(\S.*)$", re.S)


def _leading_answer(reply: str, options, terms: dict[str, str], multiple: bool, question_words) -> Answer | None:
    """The answer a reply starts with, when a comment follows that names no other option; never a guessed typo."""
    leading = LEADING_ANSWER.match(reply)
    if not leading:
        return None
    head, comment = leading.groups()
    answer = match_choice(head, options, multiple=multiple, question_words=question_words)
    if answer is None or answer.how == "fuzzy" or _names_an_option(normalize(comment), terms, len(options)):
        return None
    return Answer(answer.value, f"{answer.how}+comment")


def _names_an_option(text: str, terms: dict[str, str], count: int) -> bool:
    words = text.split()
    for term in terms:
        size = len(term.split())
        if any(" ".join(words[i : i + size]) == term for i in range(len(words) - size + 1)):
            return True
    return any(word.isdecimal() and 1 <= int(word) <= count for word in words) or any(w in ORDINALS for w in words)


def _answer(values: list[str], how: str, multiple: bool, order: list[str]) -> Answer | None:
    distinct = [value for value in order if value in set(values)]
    if not multiple:
        return Answer(distinct[0], how) if len(distinct) == 1 else None
    return Answer(distinct, how)


def _by_words(text: str, terms: dict[str, str], options, filler) -> list[str] | None:
    """Options named inside the reply, longest names first, ignoring filler; negated names count as none."""
    words = text.split()
    found: list[str] = []
    used = [False] * len(words)
    for term in sorted(terms, key=lambda t: (-len(t.split()), -len(t))):
        size = len(term.split())
        for start in range(len(words) - size + 1):
            if any(used[start : start + size]) or " ".join(words[start : start + size]) != term:
                continue
            if start and words[start - 1] in NEGATIONS and term not in NEGATIONS:
                return []  # "not medium": not an answer we should guess at
            found.append(terms[term])
            for index in range(start, start + size):
                used[index] = True
    leftovers = [w for w, taken in zip(words, used, strict=True) if not taken and w not in filler]
    leftovers = [w for w in leftovers if not SEPARATORS.fullmatch(w) and w not in {",", ";", "/", "&"}]
    if not found:
        return None
    # More than a word beside the option name, a question, or a word that changes the option ("xtra large",
    # "2x large") makes the reply something else: better to re-ask than to guess.
    if len(leftovers) > 1 or (leftovers and (_starts_like_a_question(text) or set(leftovers) & MODIFIERS)):
        return []
    return found


def is_question(reply: str) -> bool:
    """Whether a reply asks something ("do you ship to Canada?", "what sizes do you have")."""
    text = normalize(reply)
    return bool(text) and (reply.rstrip().endswith("?") or text.split()[0] in QUESTION_WORDS)


QUESTION_WORDS = frozenset(
    "is are do does did can could will would what which how why when where who whats hows".split()
)


def _starts_like_a_question(text: str) -> bool:
    return text.split()[0] in {"is", "are", "do", "does", "can", "what", "which", "how", "why", "when", "where"}


def _by_numbers(text: str, terms, options: list[Option], filler) -> list[str] | None:
    """Numbered options ("2", "#3", "1 and 3"), and a number inside a range option ("30" for 25-34)."""
    parts = [part for part in SEPARATORS.split(text) if part]
    words = [word for part in parts for word in part.split() if word not in filler]
    if any(word in ORDINALS for word in words):  # "the second one": the ordinal is the answer
        words = [str(ORDINALS[word]) for word in words if word in ORDINALS]
    if len(text.split()) == 1:  # "two" alone names option 2; "one size" is not an option number
        words = [str(CARDINALS.get(word, word)) for word in words]
    if not words or not all(re.fullmatch(r"\d+", word) for word in words):
        return None
    chosen = []
    for word in words:
        number = int(word)
        if 1 <= number <= len(options):
            chosen.append(options[number - 1].value)
        else:
            in_range = _option_by_range(number, options)
            if in_range is None:
                return []  # a number that names no option: not an answer
            chosen.append(in_range)
    return chosen


def _option_by_range(number: int, options: list[Option]) -> str | None:
    for option in options:
        low_high = re.fullmatch(r"(\d+)\s*-\s*(\d+)", option.value)
        at_least = re.fullmatch(r"(\d+)\s*\+", option.value)
        if low_high and int(low_high[1]) <= number <= int(low_high[2]):
            return option.value
        if at_least and number >= int(at_least[1]):
            return option.value
    return None


def _by_fuzzy(text: str, terms: dict[str, str], options, filler) -> list[str] | None:
    """Typos: each content word of four letters or more against the option names, above the threshold."""
    candidates = {term: value for term, value in terms.items() if len(term) >= FUZZY_MIN_LENGTH}
    words = [w for w in text.split() if w not in filler and len(w) >= FUZZY_MIN_LENGTH]
    found = []
    for word in words:
        best = process.extract(word, list(candidates), scorer=fuzz.ratio, limit=2)
        if not best or best[0][1] < FUZZY_THRESHOLD:
            continue
        runner_up_ties = len(best) > 1 and best[1][1] == best[0][1]
        if runner_up_ties and candidates[best[1][0]] != candidates[best[0][0]]:
            return []  # equally close to two options: ask again rather than guess
        found.append(candidates[best[0][0]])
    return found or None


def match_yes_no(reply: str) -> bool | None:
    """True for yes, False for no, None when the reply is neither."""
    words = [word for word in normalize(reply).split() if word not in FILLER or word in YES_WORDS | NO_WORDS]
    if not words:
        return True if "👍" in reply else None
    if words[0] in YES_WORDS and not set(words) & (NO_WORDS | NEGATIONS):
        return True
    if words[0] in NO_WORDS or set(words) & NEGATIONS:
        return False
    return None


def match_number(reply: str) -> int | float | None:
    """The one number in a reply ("42", "$19.99", "about 30"), or None."""
    found = re.findall(r"-?\d+(?:[.,]\d+)?", reply.replace(",", "") if re.search(r"\d,\d{3}", reply) else reply)
    if len(found) != 1:
        return None
    value = float(found[0].replace(",", "."))
    return int(value) if value.is_integer() else value


def match_date(reply: str, *, today: date) -> date | None:
    """A date written as 2026-12-24, 12/24(/2026), Dec 24, 24th December (no year: the next such date)."""
    iso = re.search(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b", reply)
    if iso:
        return _safe_date(int(iso[1]), int(iso[2]), int(iso[3]))
    slashed = re.search(r"\b(\d{1,2})/(\d{1,2})(?:/(\d{2}|\d{4}))?\b", reply)
    if slashed:
        year = int(slashed[3]) if slashed[3] else None
        return _with_year(int(slashed[1]), int(slashed[2]), year, today)
    words = [re.sub(r"^(\d{1,2})(st|nd|rd|th)$", r"\1", word) for word in normalize(reply).split()]
    for index, word in enumerate(words):
        if word in MONTHS:
            near = words[index + 1 : index + 2] + words[max(0, index - 1) : index]
            day = next((int(w) for w in near if w.isdecimal() and len(w) <= 2), None)
            year = next((int(w) for w in words if len(w) == 4 and w.isdecimal()), None)
            if day:
                return _with_year(MONTHS[word], day, year, today)
    return None


def _with_year(month: int, day: int, year: int | None, today: date) -> date | None:
    if year is not None:
        return _safe_date(year + 2000 if year < 100 else year, month, day)
    candidate = _safe_date(today.year, month, day)
    if candidate and candidate < today:
        candidate = _safe_date(today.year + 1, month, day)
    return candidate


def _safe_date(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None
