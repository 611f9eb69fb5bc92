"""Reading whole numbers from request input, where `str.isdigit()` is a trap.

`"²".isdigit()` is true but `int("²")` fails, `"١٢".isdigit()` is true and `int()` reads it, and
`int("9" * 40)` is a number no database column holds. Ids and counts from a URL, a query string or a form are
read here: ASCII digits only, within a bound.
"""

import re

BIGINT_MAX = 2**63 - 1
_WHOLE = re.compile(r"-?[0-9]{1,19}")


def whole_number(raw, *, minimum: int = 0, maximum: int = BIGINT_MAX) -> int | None:
    """The number `raw` spells in ASCII digits, or None when it spells none in [minimum, maximum]."""
    text = str(raw).strip() if raw is not None else ""
    if not _WHOLE.fullmatch(text):
        return None
    value = int(text)
    return value if minimum <= value <= maximum else None
