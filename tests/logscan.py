"""The scan of a test run's logs for personal data (tests/conftest.py runs it when the run ends).

Every process of the run writes what Parley's LOGGING emits, at every level, to one file (config/settings/test.py,
logging_with_capture). No line of it may hold a phone number in E.164 form, a fictional 555-01xx number in any
form, an e-mail address, or one of the sentinel values that tests/test_log_privacy.py sends through every path
that logs.
"""

import re

# What tests/test_log_privacy.py sends through every path that logs.
SENTINEL_PHONE = "+13125550187"
SENTINEL_EMAIL = "sentinel.shopper@example.org"
SENTINEL_BODY = "marigold kumquat sentinel"

LEAKS = {
    "phone number": re.compile(r"(?:\+|%2[bB])\d{8,15}"),
    "fictional number": re.compile(r"555[ .-]?01\d\d(?!\d)"),  # 555-0100, (415) 555-0123, 4155550199
    # Broader than the filter's own patterns, so that the scan finds what the filter misses.
    "e-mail address": re.compile(r"[^\s@]+(?:@|%40)[^\s@]+\.[A-Za-z]{2,}"),
    "message body": re.compile(re.escape(SENTINEL_BODY), re.IGNORECASE),
}


def _masked(value: str) -> str:
    return value[:3] + "…" if len(value) > 3 else "…"


def leaks(text: str) -> list[str]:
    """Each line of `text` that holds personal data, with what it holds masked: '<line number>: <kind>: <line>'."""
    found = []
    for number, line in enumerate(text.splitlines(), start=1):
        kinds = [kind for kind, pattern in LEAKS.items() if pattern.search(line)]
        if kinds:
            for pattern in LEAKS.values():
                line = pattern.sub(lambda match: _masked(match.group()), line)
            found.append(f"{number}: {', '.join(kinds)}: {line[:300]}")
    return found
