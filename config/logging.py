"""No personal data in what Parley logs: the filter that every handler of settings.LOGGING runs.

Parley's own log lines name texts and subscribers by id. This filter is the net under everything else that
ends up in a line: exception messages in tracebacks (a database's DETAIL line, a validation error quoting
what someone typed), request lines with query strings (runserver's access log), libraries' debug output.
In the message and in the traceback it replaces
- phone numbers: +14155550100 (also URL-encoded, %2B…), 0044 20 7946 0018, (415) 555-0100, 415.555.0100,
  1-415-555-0100, 1 (415) 555-0100,
  4155550100, 020 7946 0018, 06 12 34 56 78;
- e-mail addresses (also URL-encoded, ana%40example.com);
- every value of a URL's query string: /inbox/?q=…&phone=…;
- PostgreSQL's DETAIL, LINE and CONTEXT lines (the key's value, the failing row, the query with its values)
  and the values it quotes ('invalid input syntax for type integer: "…"');
- the values other messages quote: "(got '…')", "'…' is not a valid phone number", and the whole template
  context that Django's template debug line prints ("Failed lookup for key [x] in …");
- the SQL of Django's query log (django.db.backends, DEBUG): its string literals and its parameters.
The traceback is rendered here, redacted and kept as text: handlers after this one never see the exception.
"""

import logging
import re

PHONE = re.compile(
    r"""(?<![\w+.-])(?:
        (?:\+|%2[bB]|00)\ ?\d[\d\ ().-]{5,20}\d     # international: +14155550100, +44 20 7946 0018, 0033 6…
      | (?:1[\ .-]?)?\(?\d{3}\)?[\ .-]?\d{3}[\ .-]\d{4}  # North American: (415) 555-0100, 1-415-555-0100, 415.555.0100
      | 0\d{1,4}(?:[\ -]?\d{2,4}){2,4}              # national with a trunk 0: 020 7946 0018, 06 12 34 56 78
      | \d{10,15}                                   # bare digits: 4155550100, 14155550100
    )(?!\w)""",
    re.VERBOSE,
)
EMAIL = re.compile(r"[\w.+-]+(?:@|%40)[\w-]+(?:\.[\w-]+)+")
QUERY_VALUE = re.compile(r"([?&][A-Za-z_][\w.\[\]-]*=)[^\s&#\"']*")
CARRIERS = [  # (pattern, replacement) for the places where a message quotes a value
    (re.compile(r"((?:DETAIL|CONTEXT|LINE \d+):\s*)(Key \([^)\n]*\)=)?[^\n]*"), r"\1\2[redacted]"),
    (re.compile(r"(invalid input (?:syntax|value) for [^:\n]*: )[^\n]*"), r'\1"[redacted]"'),
    (re.compile(r"\(got [^\n]*\)"), "(got [redacted])"),
    (re.compile(r"""(?:'[^'\n]*'|"[^"\n]*") is not a valid phone number"""), "[redacted] is not a valid phone number"),
    (re.compile(r"(Failed lookup for key \[[^\]\n]*\] in )[^\n]*"), r"\1[the template context, redacted]"),
]
SQL_STRING = re.compile(r"'(?:[^']|'')*'")
_TRACEBACKS = logging.Formatter()


def _phone(match: re.Match) -> str:
    digits = sum(char.isdigit() for char in match.group())
    return "[phone]" if digits >= 8 else match.group()  # "05-01 12" in a date is not a number to hide


def redact(text: str) -> str:
    """`text` without phone numbers, e-mail addresses, query-string values or the values messages quote."""
    for pattern, replacement in CARRIERS:
        text = pattern.sub(replacement, text)
    text = QUERY_VALUE.sub(r"\1[redacted]", text)
    text = EMAIL.sub("[email]", text)
    return PHONE.sub(_phone, text)


class RedactPersonalData(logging.Filter):
    """Rewrite the record as redacted text: its message, its traceback and its stack; never drops a record."""

    def filter(self, record: logging.LogRecord) -> bool:
        if hasattr(record, "sql"):  # Django's query log: the statement with its values, and the values again
            duration = getattr(record, "duration", None)
            message = SQL_STRING.sub("'[redacted]'", str(record.sql))
            message = f"({duration:.3f}) {message}" if isinstance(duration, float) else message
        else:
            try:
                message = record.getMessage()
            except Exception:  # noqa: BLE001 - arguments that do not fit: logging would print them whole
                message = f"{record.msg} (its arguments did not fit and are not shown)"
        record.msg, record.args = redact(str(message)), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = _TRACEBACKS.formatException(record.exc_info)
        record.exc_info = None
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True
