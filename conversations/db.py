"""Where the two databases Parley runs on differ: PostgreSQL (production, CI) and SQLite (`make run`, a second
test backend).

Code that writes SQL by hand asks here instead of reading `connection.vendor` itself, so every difference is
named once. The JSON tests of segment rules (PostgreSQL's JSONB against SQLite's JSON1) stay in
segments/compiler.py, which asks here which of the two it compiles for. Every fragment below is written for a
statement run with parameters, so a literal % is doubled.
"""

from datetime import UTC, datetime

from django.db import connections


def is_postgresql(using: str = "default") -> bool:
    """True on PostgreSQL; Parley's other backend is SQLite."""
    return connections[using].vendor == "postgresql"


def greatest_sql(using: str = "default") -> str:
    """The function that returns the larger of its arguments: GREATEST, or SQLite's MAX with several arguments."""
    return "GREATEST" if is_postgresql(using) else "MAX"


def add_days_sql(timestamp_sql: str, days: int, using: str = "default") -> str:
    """`timestamp_sql` plus whole days, comparable with the stored timestamps (SQLite stores them as text)."""
    if is_postgresql(using):
        return f"{timestamp_sql} + INTERVAL '{int(days)} day'"
    return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {timestamp_sql}, '+{int(days)} day')"


def timestamp_type_sql(using: str = "default") -> str:
    """The SQL type to CAST a computed value to so it stores in a DateTimeField column."""
    return "TIMESTAMP WITH TIME ZONE" if is_postgresql(using) else "TEXT"


def json_parameter_sql(using: str = "default") -> str:
    """A placeholder for a JSON text parameter written to a JSONField column (jsonb on PostgreSQL)."""
    return "CAST(%s AS jsonb)" if is_postgresql(using) else "%s"


def insert_rows(table: str, columns: list[str], rows: list[tuple], using: str = "default") -> None:
    """Write many rows in one statement per chunk: COPY on PostgreSQL, multi-row INSERT on SQLite."""
    if not rows:
        return
    connection = connections[using]
    quoted_table = connection.ops.quote_name(table)
    names = ", ".join(connection.ops.quote_name(column) for column in columns)
    with connection.cursor() as cursor:
        if is_postgresql(using):
            with cursor.cursor.copy(f"COPY {quoted_table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            return
        per_statement = max(1, 30000 // len(columns))  # under SQLite's limit of bound variables
        row_sql = "(" + ", ".join(["%s"] * len(columns)) + ")"
        for start in range(0, len(rows), per_statement):
            chunk = rows[start : start + per_statement]
            cursor.execute(
                f"INSERT INTO {quoted_table} ({names}) VALUES " + ", ".join([row_sql] * len(chunk)),
                [_sqlite_value(value) for row in chunk for value in row],
            )


def _sqlite_value(value):
    """A datetime as SQLite's columns hold it: UTC, without an offset."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ")
    return value
