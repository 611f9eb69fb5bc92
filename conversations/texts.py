"""What other apps may use about the text of an SMS: the public face of `conversations/sms/`.

Flows and campaigns count segments, show the encoding, prepare bodies and compare keywords the way the
pipeline does; they import these from here, never from the modules inside `sms/`, which may change.
Text templates (`{{ first_name }}`) are `conversations.templating`.
"""

from .sms.encoding import (
    MAX_BODY_CHARACTERS,
    SegmentCount,
    count_segments,
    count_summary,
    non_gsm7_characters,
    prepare_body,
)
from .sms.gate import selling_links
from .sms.keywords import is_reserved as is_reserved_keyword
from .sms.keywords import normalize as normalize_keyword

__all__ = [
    "MAX_BODY_CHARACTERS",
    "SegmentCount",
    "count_segments",
    "count_summary",
    "is_reserved_keyword",
    "non_gsm7_characters",
    "normalize_keyword",
    "prepare_body",
    "selling_links",
]
