"""Input no part of Parley can store or encode is refused here, once, before any view sees it.

PostgreSQL refuses the NUL character in text and JSON, Python refuses to encode a lone surrogate (half of a
UTF-16 pair, which JSON's `\\ud800` escapes and percent-decoding can produce), and Python's JSON reader
gives up (RecursionError) on documents nested some thousand levels deep. Rather than guard every view, this
middleware looks at the path, the query string, form fields, JSON bodies, cookies and the Authorization
header, and answers 400 naming the first place that holds such a value. Nothing else is changed.
"""

import json
import logging
import re

from django.db import DataError
from django.http import HttpResponse, JsonResponse
from django.http.multipartparser import MultiPartParserError

log = logging.getLogger(__name__)

# Deeper JSON than this is refused: no document Parley takes needs more than a few levels (a segment's rules
# nest groups at most a few deep), and recursive validators stay far from Python's recursion limit.
MAX_JSON_DEPTH = 64


class UnreadableInput(ValueError):
    """A value Parley cannot store; `where` names it for the person who sent it."""

    def __init__(self, where: str, problem: str):
        super().__init__(f"{where}: {problem}")
        self.where = where
        self.problem = problem


def text_problem(value: str) -> str | None:
    """Why `value` cannot be stored as text, or None when it can."""
    if "\x00" in value:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if value.isascii():
        return None
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return "contains a lone surrogate (half of a UTF-16 pair), which is not valid Unicode"
    return None


def check_text(value: str, where: str) -> None:
    problem = text_problem(value)
    if problem:
        raise UnreadableInput(where, problem)


def check_json(document, where: str = "body") -> None:
    """Walk a decoded JSON document without recursion: every key and string must be storable, depth bounded.

    A place's name (`body.items[2].name`) is spelled out only for the value that has a problem.
    """
    if isinstance(document, str):
        check_text(document, where)
    stack = [(document, 1, (where,))] if isinstance(document, dict | list) else []
    while stack:  # containers only: strings are checked where they stand, empty containers never pushed
        container, depth, trail = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise UnreadableInput(_spell(trail), f"is nested more than {MAX_JSON_DEPTH} levels deep")
        is_object = isinstance(container, dict)
        for key, item in container.items() if is_object else enumerate(container):
            if is_object and text_problem(key):
                check_text(key, _spell(trail) + " (a key)")
            if isinstance(item, str):
                if text_problem(item):
                    check_text(item, _spell((trail, f".{key}" if is_object else f"[{key}]")))
            elif item and isinstance(item, dict | list):
                stack.append((item, depth + 1, (trail, f".{key}" if is_object else f"[{key}]")))


def _spell(trail: tuple) -> str:
    parts = []
    while len(trail) == 2:
        trail, part = trail
        parts.append(part)
    return trail[0] + "".join(reversed(parts))


_JSON_STRING = re.compile(rb'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_BRACKETS = bytes.maketrans(b"{}", b"[]")
_NOT_BRACKETS = bytes(byte for byte in range(256) if byte not in b"[]{}")
# The only ways a JSON text can hold a NUL or a lone surrogate once decoded (raw control characters and encoded
# surrogates are not valid JSON): a \u0000 escape, or a \uD800-\uDFFF escape (pairs too, which are fine).
_RISKY_ESCAPE = re.compile(rb"\\u(?:0000|[dD][89a-fA-F])")


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects at once (counted outside strings).

    Checked before decoding, since Python's decoder itself recurses and a deep enough document exhausts it. The
    brackets outside strings are peeled one level a round (every innermost `[]` at once), in C, so that a
    large body costs little: what is left after `limit` rounds is nested deeper.
    """
    if raw.count(b"[") + raw.count(b"{") <= limit:
        return False
    brackets = _JSON_STRING.sub(b"", raw).translate(_BRACKETS, _NOT_BRACKETS)
    for _ in range(limit):
        peeled = brackets.replace(b"[]", b"")
        if peeled == brackets:  # nothing closed is left: what remains are brackets never closed, all nested
            return brackets.count(b"[") > limit
        brackets = peeled
    return b"[]" in brackets


def _is_json(request) -> bool:
    return request.content_type == "application/json" or request.content_type.endswith("+json")


FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")


def check_request(request) -> None:
    """Raise UnreadableInput for the first value in the request that Parley cannot store."""
    check_text(request.path, "the URL path")
    for name, values in request.GET.lists():
        check_text(name, "a query parameter's name")
        for value in values:
            check_text(value, f"query parameter {name!r}")
    for name, value in request.COOKIES.items():
        check_text(name + value, f"cookie {name!r}")
    check_text(request.headers.get("Authorization", ""), "the Authorization header")
    if request.method in ("GET", "HEAD", "OPTIONS"):
        return
    if request.content_type in FORM_TYPES:
        if request.method == "POST":
            for name, values in request.POST.lists():
                check_text(name, "a form field's name")
                for value in values:
                    check_text(value, f"form field {name!r}")
        return
    raw = request.body
    # Some endpoints read a JSON body whatever its declared type (a beacon sends text/plain): so does this check.
    if not (_is_json(request) or raw.lstrip()[:1] in (b"{", b"[")):
        return
    if json_depth_exceeds(raw):
        raise UnreadableInput("body", f"is nested more than {MAX_JSON_DEPTH} levels deep")
    if b"\x00" not in raw and not _RISKY_ESCAPE.search(raw):
        return  # nothing in it can decode to a NUL or a lone surrogate
    try:
        document = json.loads(raw)
    except (ValueError, RecursionError):
        return  # not JSON at all: the view's own parser names the error
    check_json(document)


class RefuseUnreadableInputMiddleware:
    """Answer 400 for a request holding a NUL, a lone surrogate or absurdly nested JSON, naming where."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        try:
            check_request(request)
        except UnreadableInput as error:
            return bad_input_response(request, str(error), error.where)
        except MultiPartParserError as error:
            return bad_input_response(request, f"the form could not be read: {error}", "body")
        return self.get_response(request)

    def process_exception(self, request, exception):
        """The last guard: a number or text the database cannot hold, which a view let through, is still a 400.

        (SQLite raises OverflowError for an integer past 64 bits, PostgreSQL a DataError for a value out of its
        column's range.) The view should have named the field; this answer at least names the problem.
        """
        if isinstance(exception, OverflowError | DataError):
            log.warning("a request held a value the database cannot store (%s)", type(exception).__name__)
            return bad_input_response(request, "a value is out of range or too long for the database", "body")
        return None


def bad_input_response(request, message: str, where: str):
    """A 400 in the form the caller reads: JSON for the API and JSON bodies, plain text for people."""
    if request.path.startswith("/api/") or _is_json(request) or where.startswith("body"):
        return JsonResponse({"detail": message, "field": where}, status=400)
    return HttpResponse(f"Bad request: {message}", status=400, content_type="text/plain; charset=utf-8")
