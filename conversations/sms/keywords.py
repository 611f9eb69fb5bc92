"""What an inbound text asks for: opt out, opt back in, or help.

Implements the normative matching algorithm of the compliance reference
(design/compliance.md, section 1): normalise, compare whole-message keywords,
then a short list of unambiguous free-text opt-outs. Opt-out always wins. Pure
code: no database, no settings.
"""

import re
import unicodedata
from dataclasses import dataclass

OPT_OUT = "opt_out"
OPT_IN = "opt_in"
HELP = "help"

OPT_OUT_KEYWORDS = frozenset({"stop", "stopall", "unsubscribe", "cancel", "end", "quit", "revoke", "optout"})
OPT_IN_KEYWORDS = frozenset({"start", "yes", "unstop"})
HELP_KEYWORDS = frozenset({"help", "info"})

# Words that may stand beside a keyword without changing its meaning ("stop please", "please STOP it now").
# The compliance list, plus the plain abbreviations people text ("stop msgs", "stop sms").
COURTESY_WORDS = frozenset(
    "please pls plz now it already thanks thank you asap immediately all text texts texting message messages "
    "messaging sending contacting me this number ok okay msg msgs sms txt txts".split()
)

FREE_TEXT_OPT_OUTS = [
    ("leave_me_alone", r"\bleave me alone\b"),
    ("remove_me", r"\bremove me\b"),
    ("take_me_off", r"\btake me off\b"),
    ("unsubscribe", r"\bunsubscribe\b"),
    ("opt_out", r"\bopt[ -]?(me )?out\b"),
    ("wrong_number", r"\bwrong (number|person)\b"),
    ("do_not_contact", r"\b(do not|don't|dont|never) (text|txt|message|msg|contact|sms) me\b"),
    ("no_more_texts", r"\bno more (texts|text messages|messages|msgs)\b"),
    ("stop_texting", r"\b(stop|quit) (texting|messaging|sending|contacting)\b"),
    ("no_mas", r"^no mas( mensajes)?$"),
]
_FREE_TEXT = [(rule, re.compile(pattern)) for rule, pattern in FREE_TEXT_OPT_OUTS]
_EDGE_NON_WORD = re.compile(r"^[\W_]+|[\W_]+$")
_JOINERS = re.compile(r"[\s\-_]+")


@dataclass(frozen=True)
class Match:
    kind: str  # OPT_OUT, OPT_IN or HELP
    keyword: str  # the keyword as a store would write it ("STOP"), or the free-text rule
    rule: str  # which rule matched, kept on the consent record


def normalize(text: str) -> str:
    """NFKC, casefold, straight apostrophes, no accents, single spaces, no punctuation or emoji at the ends."""
    text = unicodedata.normalize("NFKC", text).casefold().replace("\u2019", "'")
    text = "".join(char for char in unicodedata.normalize("NFD", text) if not unicodedata.combining(char))
    text = " ".join(text.split())
    return _EDGE_NON_WORD.sub("", text)


def classify(text: str) -> Match | None:
    """The keyword an inbound text is, or None when it is a conversation to hand on."""
    normalized = normalize(text)
    if not normalized:
        return None
    compact = _JOINERS.sub("", normalized)
    if compact in OPT_OUT_KEYWORDS:
        return Match(OPT_OUT, compact.upper(), f"keyword:{compact.upper()}")
    words = [word for word in (_EDGE_NON_WORD.sub("", word) for word in normalized.split()) if word]
    keyword = _keyword_among_courtesy(words, OPT_OUT_KEYWORDS)
    if keyword:
        return Match(OPT_OUT, keyword.upper(), f"keyword_with_courtesy:{keyword.upper()}")
    for rule, pattern in _FREE_TEXT:
        if pattern.search(normalized):
            return Match(OPT_OUT, rule, f"free_text:{rule}")
    if compact in OPT_IN_KEYWORDS:
        return Match(OPT_IN, compact.upper(), f"keyword:{compact.upper()}")
    keyword = compact if compact in HELP_KEYWORDS else _keyword_among_courtesy(words, HELP_KEYWORDS)
    if keyword:
        return Match(HELP, keyword.upper(), f"keyword:{keyword.upper()}")
    return None


def _keyword_among_courtesy(words: list[str], keywords: frozenset[str]) -> str | None:
    """The keyword of a text made of exactly one keyword and courtesy words ("please stop", "stop it now")."""
    found = [word for word in words if word in keywords]
    if len(set(found)) == 1 and all(word in keywords or word in COURTESY_WORDS for word in words):
        return found[0]
    return None


CONFIRM_KEYWORDS = frozenset({"y", "yes"})


def is_confirmation(text: str) -> bool:
    """Y or YES, alone or among courtesy words ("Yes please!", "y thanks"): the answer to a double opt-in request."""
    words = [word for word in (_EDGE_NON_WORD.sub("", word) for word in normalize(text).split()) if word]
    return _keyword_among_courtesy(words, CONFIRM_KEYWORDS) is not None


def is_reserved(word: str) -> bool:
    """True for words a flow may not use as an answer option, because they are compliance keywords."""
    compact = _JOINERS.sub("", normalize(word))
    return compact in OPT_OUT_KEYWORDS | OPT_IN_KEYWORDS | HELP_KEYWORDS
