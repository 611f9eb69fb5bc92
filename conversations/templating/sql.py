"""Filling a text in SQL: one expression per text over the subscriber row `s`, so that the campaign fan-out
writes a million personalised bodies with one `INSERT … SELECT` and never loads a subscriber into Python.

It gives exactly what render.py gives (tests/conversations/test_templating.py checks every variable kind and
every filter on PostgreSQL and SQLite). The two databases differ in their JSON functions and their case
mapping; `dialect()` is the one place here that says how (conversations/db.py tells which database it is).
"""

from collections.abc import Callable, Mapping

from ..db import is_postgresql
from .render import value_text
from .syntax import Link, Template, Variable

SUBSCRIBER_COLUMNS = ("first_name", "last_name", "phone")
Sql = tuple[str, list]


def to_sql(
    template: Template,
    *,
    connection,
    labels: Mapping[str, Mapping[str, str]],
    constants: Mapping[str, object],
    link_sql: Callable[[str | None], Sql] | None = None,
    subscriber: str = "s",
) -> Sql:
    """(sql, params) of `template` over the subscriber row aliased `subscriber`.

    `constants` fills the names that are the same for everyone (`store`); `link_sql(url)` gives the SQL of
    each link part (url None: {{ link }}); `labels` maps attribute keys to their options' labels.
    """
    dialect_ = dialect(connection)
    pieces: list[str] = []
    params: list = []
    for part in template.parts:
        if isinstance(part, str):
            sql, part_params = "CAST(%s AS TEXT)", [part]
        elif isinstance(part, Link):
            if link_sql is None:
                raise ValueError(f"{part.source} needs link_sql to be filled by the database")
            sql, part_params = link_sql(part.url)
        else:
            sql, part_params = _variable(part, dialect_, labels, constants, subscriber)
        pieces.append(f"({sql})")
        params += part_params
    if not pieces:
        return "CAST('' AS TEXT)", []
    return " || ".join(pieces), params


def _variable(variable: Variable, dialect_, labels, constants, subscriber: str) -> Sql:
    root, rest = variable.root, variable.path[1:]
    if root in SUBSCRIBER_COLUMNS and not rest:
        sql, params = f"COALESCE({subscriber}.{root}, '')", []
    elif root == "attributes" and len(rest) == 1:
        option_labels = (labels.get(rest[0]) or {}) if variable.has("label") else {}
        sql, params = dialect_.attribute(f"{subscriber}.attributes", rest[0], option_labels)
    elif root in constants and not rest:
        sql, params = "CAST(%s AS TEXT)", [value_text(constants[root])]
    else:
        raise ValueError(f"{variable.source} cannot be filled by the database")
    for text_filter in variable.filters:
        if text_filter.name == "default":
            sql, params = f"COALESCE(NULLIF({sql}, ''), CAST(%s AS TEXT))", [*params, text_filter.argument or ""]
        elif text_filter.name in ("upper", "lower", "title"):
            sql = getattr(dialect_, text_filter.name)(sql)
    return sql, params


def _join(*pieces) -> Sql:
    """Concatenate SQL text and (sql, params) pieces, keeping the parameters in the order they appear."""
    sql, params = [], []
    for piece in pieces:
        if isinstance(piece, str):
            sql.append(piece)
        else:
            sql.append(piece[0])
            params += piece[1]
    return "".join(sql), params


def _labelled(value: Sql, labels: Mapping[str, str]) -> Sql:
    if not labels:
        return value
    whens = [(" WHEN CAST(%s AS TEXT) THEN CAST(%s AS TEXT)", [str(key), str(label)]) for key, label in labels.items()]
    return _join("(CASE ", value, *whens, " ELSE ", value, " END)")


# --- The databases -------------------------------------------------------------------------------------------


def dialect(connection):
    """How this database says what the texts need (JSON values, case mapping, hex); conversations/db.py says
    which database it is. JSON stays here as it stays in segments/compiler.py: the texts' own way of reading it."""
    if is_postgresql(connection.alias):
        return _Postgres(connection)
    return _SQLite()


class _Postgres:
    def __init__(self, connection):
        self.connection = connection

    def attribute(self, column: str, key: str, labels: Mapping[str, str]) -> Sql:
        value = (f"({column} -> %s)", [key])
        array = _join(
            "COALESCE((SELECT string_agg(",
            self._item(("e.value", []), labels),
            ", ', ' ORDER BY e.n) FROM jsonb_array_elements(CASE WHEN jsonb_typeof(",
            value,
            ") = 'array' THEN ",
            value,
            " END) WITH ORDINALITY AS e(value, n)), '')",
        )
        return _join(
            "CASE WHEN jsonb_typeof(", value, ") = 'array' THEN ", array, " ELSE ", self._item(value, labels), " END"
        )

    def _item(self, value: Sql, labels) -> Sql:
        text = _join(value, " #>> '{}'")
        return _join(
            "CASE jsonb_typeof(",
            value,
            ") WHEN 'string' THEN ",
            _labelled(text, labels),
            " WHEN 'number' THEN ",
            text,
            " WHEN 'boolean' THEN CASE WHEN ",
            value,
            " = 'true'::jsonb THEN 'yes' ELSE 'no' END ELSE '' END",
        )

    @property
    def collate(self) -> str:
        """ICU's root locale maps case as Python does (ß → SS); without ICU the database's own locale does."""
        found = getattr(self.connection, "_parley_case_collation", None)
        if found is None:
            with self.connection.cursor() as cursor:
                cursor.execute("SELECT collname FROM pg_collation WHERE collname = 'und-x-icu'")
                row = cursor.fetchone()
            found = self.connection._parley_case_collation = f' COLLATE "{row[0]}"' if row else ""
        return found

    def upper(self, sql: str) -> str:
        return f"upper(({sql}){self.collate})"

    def lower(self, sql: str) -> str:
        return f"lower(({sql}){self.collate})"

    def title(self, sql: str) -> str:
        # Python's str.title: a letter after a cased character is lower case, any other is title case.
        c = self.collate
        return (
            "(SELECT COALESCE(string_agg(CASE WHEN g.i > 1 AND "
            f"lower(substr(t.v, g.i - 1, 1){c}) <> upper(substr(t.v, g.i - 1, 1){c}) "
            f"THEN lower(substr(t.v, g.i, 1){c}) ELSE initcap(substr(t.v, g.i, 1){c}) END, '' ORDER BY g.i), '') "
            f"FROM (SELECT ({sql}) AS v) AS t CROSS JOIN LATERAL generate_series(1, length(t.v)) AS g(i))"
        )

    def hex(self, sql: str) -> str:
        return f"to_hex({sql})"


class _SQLite:
    def attribute(self, column: str, key: str, labels: Mapping[str, str]) -> Sql:
        path = f'$."{key}"'
        kind = (f"json_type({column}, %s)", [path])
        text = (f"({column} ->> %s)", [path])
        number = (f"({column} -> %s)", [path])  # the number as written: 0.30000000000000004, not 0.3
        item = _join(
            "CASE e.type WHEN 'text' THEN ",
            _labelled(("e.value", []), labels),
            f" WHEN 'integer' THEN {column} -> e.fullkey WHEN 'real' THEN {column} -> e.fullkey "
            "WHEN 'true' THEN 'yes' WHEN 'false' THEN 'no' ELSE '' END",
        )
        array = _join(
            "COALESCE((SELECT group_concat(i.item, ', ') FROM (SELECT ",
            item,
            " AS item FROM json_each(",
            (column, []),
            ", ",
            ("%s", [path]),
            ") AS e ORDER BY e.key) AS i), '')",
        )
        return _join(
            "CASE ",
            kind,
            " WHEN 'text' THEN ",
            _labelled(text, labels),
            " WHEN 'integer' THEN ",
            number,
            " WHEN 'real' THEN ",
            number,
            " WHEN 'true' THEN 'yes' WHEN 'false' THEN 'no' WHEN 'array' THEN ",
            array,
            " ELSE '' END",
        )

    def upper(self, sql: str) -> str:
        return f"parley_upper({sql})"

    def lower(self, sql: str) -> str:
        return f"parley_lower({sql})"

    def title(self, sql: str) -> str:
        return f"parley_title({sql})"

    def hex(self, sql: str) -> str:
        return f"printf('%%x', {sql})"


def sqlite_functions_add(sender, connection, **kwargs) -> None:
    """connection_created: SQLite's own upper() and lower() know only ASCII, so the texts use Python's."""
    if connection.vendor != "sqlite":  # the connection at hand; it may have no alias (PostgreSQL's "no database")
        return
    for name, method in (("parley_upper", str.upper), ("parley_lower", str.lower), ("parley_title", str.title)):
        connection.connection.create_function(name, 1, _text_function(method), deterministic=True)


def _text_function(method):
    return lambda value: None if value is None else method(str(value))
