from base64 import b64decode
from urllib.parse import parse_qs

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination

from .params import whole_number


class NewestFirstCursorPagination(CursorPagination):
    """Stable pages over growing tables: newest rows first, by id.

    Unlike DRF's default it refuses a bad `page_size` or `cursor` with a 400
    that says so, instead of silently using the default or answering 404.
    """

    ordering = "-id"
    page_size_query_param = "page_size"
    max_page_size = 500

    def get_page_size(self, request):
        raw = request.query_params.get(self.page_size_query_param)
        if raw is None:
            return self.page_size
        size = whole_number(raw, minimum=1, maximum=self.max_page_size)
        if size is None:
            raise ValidationError(
                {"page_size": [f"page_size must be a whole number from 1 to {self.max_page_size} (got {raw[:40]!r})"]}
            )
        return size

    def decode_cursor(self, request):
        invalid = ValidationError({"cursor": ["cursor is not valid; use the `next` or `previous` link of a page"]})
        try:
            cursor = super().decode_cursor(request)
        except NotFound:
            raise invalid from None
        if cursor is None:
            return None
        # DRF reads any text as some cursor; take only what this class's own links write: `o`, `r` and `p` (an id).
        try:
            fields = parse_qs(b64decode(request.query_params[self.cursor_query_param], validate=True).decode("ascii"))
        except (ValueError, UnicodeDecodeError):
            raise invalid from None
        if not fields or set(fields) - {"o", "r", "p"}:
            raise invalid
        if cursor.position is not None and whole_number(cursor.position) is None:
            raise invalid
        return cursor

    def get_schema_operation_parameters(self, view):
        parameters = super().get_schema_operation_parameters(view)
        for parameter in parameters:
            if parameter["name"] == self.page_size_query_param:
                parameter["schema"].update({"minimum": 1, "maximum": self.max_page_size})
        return parameters
