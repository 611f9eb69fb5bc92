"""Input no part of Parley can store or encode is refused here, once, before any view sees it.

PostgreSQL refuses the NUL character in text and JSON, Python refuses to encode a lone surrogate (half of a
UTF-16 pair, which JSON's `\\ud800` escapes and percent-decoding can produce), and Python's JSON reader
gives up (RecursionError) on documents nested some thousand levels deep. Rather than guard every view, this
middleware looks at the path, the query string, form fields, JSON bodies, cookies and the Authorization
header, and answers 400 naming the first place that holds such a value. Nothing else is changed.
"""

import json
import logging

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
    """Walk a decoded JSON document without recursion: every key and string must be storable, depth bounded."""
    stack = [(document, where, 1)]
    while stack:
        value, path, depth = stack.pop()
        if depth > MAX_JSON_DEPTH:
            raise UnreadableInput(path, f"is nested more than {MAX_JSON_DEPTH} levels deep")
        if isinstance(value, str):
            check_text(value, path)
        elif isinstance(value, dict):
            for key, item in value.items():
                check_text(key, f"{path} (a key)")
                stack.append((item, f"{path}.{key}", depth + 1))
        elif isinstance(value, list):
            stack.extend((item, f"{path}[{index}]", depth + 1) for index, item in enumerate(value))


def json_depth_exceeds(raw: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether the JSON text opens more than `limit` arrays or objects at once (counted outside strings).

    Checked before decoding, since Python's decoder itself recurses and a deep enough document exhausts it.
    """
    depth, in_string, escaped = 0, False, False
    for byte in raw:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > limit:
                return True
        elif byte in (0x5D, 0x7D):
            depth -= 1
    return False


def _is_json(request) -> bool:
    return request.content_type == "application/json" or request.content_type.endswith("+json")


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
    if _is_json(request):
        raw = request.body
        if not raw.strip():
            return
        if json_depth_exceeds(raw):
            raise UnreadableInput("body", f"is nested more than {MAX_JSON_DEPTH} levels deep")
        try:
            document = json.loads(raw)
        except (ValueError, RecursionError):
            return  # not JSON at all: the view's own parser names the error
        check_json(document)
    elif request.content_type in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for name, values in request.POST.lists():
            check_text(name, "a form field's name")
            for value in values:
                check_text(value, f"form field {name!r}")


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
    """A 400 in the form the caller reads: JSON for the API and JSON requests, plain text for people."""
    if request.path.startswith("/api/") or _is_json(request):
        return JsonResponse({"detail": message, "field": where}, status=400)
    return HttpResponse(f"Bad request: {message}", status=400, content_type="text/plain; charset=utf-8")
