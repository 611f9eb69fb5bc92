"""Only the outbox (conversations/outbox/) writes an outbound text's state.

The check reads every Python module of the project (not migrations, not tests) with `ast` and reports:
- `.update()`, `.bulk_update()`, `.create()`, `.bulk_create()`, `.get_or_create()`, `.update_or_create()` and
  `.delete()` on `Message.objects…` chains, on variables holding them, and on what functions returning them give;
- `.save()` on a `Message` instance (a parameter annotated `Message`, a row loaded from such a chain, a loop
  over one) unless its `update_fields` leave the state alone, and assignment of a state field on one;
- SQL that inserts, updates or deletes in the message table (`Message._meta.db_table`, by name or alias);
- the `Message` model handed to a bulk writer (`_insert(Message, …)`).

Inbound texts are not outbox state: `inbound_receive` stores a text the subscriber sent (status `received`), and
it never moves through the outbox's states. So a create that says `direction=…INBOUND`, and an update whose
chain filters on it (`.inbound()` or `direction=…INBOUND`), are allowed anywhere.
"""

import ast
import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTBOX = "conversations/outbox/"
SKIPPED_DIRECTORIES = {".venv", "venv", "node_modules", "tests", "migrations", ".git", "static", "__pycache__"}

# An outbound text's state: status, hold, claim and lease, the provider's id, times and errors.
STATE_FIELDS = {
    "status",
    "not_before",
    "hold_reason",
    "claim",
    "claimed_until",
    "attempts",
    "attempted_at",
    "sent_at",
    "delivered_at",
    "error_code",
    "error_message",
    "provider_message_id",
}
WRITES = {"update", "bulk_update", "create", "bulk_create", "get_or_create", "update_or_create", "delete"}
CREATES = {"create", "get_or_create", "update_or_create"}
ONE_ROW = {"get", "first", "last", "earliest", "latest", "create", "select_for_update_get"}
NOT_A_QUERYSET = ONE_ROW | {"exists", "count", "aggregate", "iterator", "in_bulk", "explain"} | WRITES
BULK_WRITER_WORDS = ("insert", "copy", "bulk", "write", "create", "update", "save", "load")
SQL_WRITES = ("insert into", "update ", "delete from", "copy ")
SQL_WRITE_ON_THE_TABLE = re.compile(r"\b(insert\s+into|update|delete\s+from|copy)\s+\W?conversations_message\b", re.I)

# Writes outside the outbox that stay, each with its reason: (path, function) -> why.
ALLOWED = {
    ("conversations/demo.py", "_write_batch"): (
        "seed_demo writes a made-up past beside its subscribers, consent and events: texts received and delivered "
        "months ago, by COPY, up to a million subscribers at once; none of them is ever queued, claimed or sent"
    ),
    ("benchmarks/campaigns.py", "<module>"): (
        "B5's baseline: the hand-written INSERT … SELECT that the fan-out through the outbox is measured against, "
        "run only on a benchmark database"
    ),
    ("benchmarks/send_rate.py", "_measure"): (
        "B4 clears what an earlier measurement left, stamped texts included: their workers are gone, and a lease "
        "running out in the middle of the next measurement would be measured as a slower sender"
    ),
    ("benchmarks/campaigns.py", "_delete_bench_campaigns"): (
        "the benchmark deletes the campaigns it made, with their million texts, by SQL, on a benchmark database"
    ),
}


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    function: str
    what: str

    def __str__(self):
        return f"{self.path}:{self.line} in {self.function}: {self.what}"


def _is_model(node) -> bool:
    return (isinstance(node, ast.Name) and node.id == "Message") or (
        isinstance(node, ast.Attribute) and node.attr == "Message"
    )


def _is_inbound_value(node) -> bool:
    return (isinstance(node, ast.Attribute) and node.attr == "INBOUND") or (
        isinstance(node, ast.Constant) and node.value == "inbound"
    )


def _says_inbound(call: ast.Call) -> bool:
    """A create or filter with direction=…INBOUND (also inside `defaults={…}`)."""
    for keyword in call.keywords:
        if keyword.arg == "direction" and _is_inbound_value(keyword.value):
            return True
        if keyword.arg == "defaults" and isinstance(keyword.value, ast.Dict):
            for key, value in zip(keyword.value.keys, keyword.value.values, strict=False):
                if isinstance(key, ast.Constant) and key.value == "direction" and _is_inbound_value(value):
                    return True
    return False


def _field_names(node) -> set[str] | None:
    """The names in a literal list/tuple/set of strings; None when it is not a literal."""
    if isinstance(node, ast.List | ast.Tuple | ast.Set) and all(
        isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts
    ):
        return {e.value for e in node.elts}
    return None


def _annotation_is(node, wanted: str) -> bool:
    """Whether an annotation names `wanted` (Message, Message | None, "Message", list[Message] for 'list')."""
    if node is None:
        return False
    if wanted == "list":
        return isinstance(node, ast.Subscript) and _annotation_is(node.slice, "instance")
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.split("|")[0].strip() == "Message"
    if isinstance(node, ast.BinOp):
        return _annotation_is(node.left, wanted) or _annotation_is(node.right, wanted)
    return _is_model(node)


class _Scope:
    """What the names of one function (or of the module body) hold: a Message queryset, a row, or a list of rows."""

    def __init__(self, node, returns_queryset: set[str]):
        self.node = node
        self.returns_queryset = returns_queryset
        self.names: dict[str, str] = {}
        arguments = getattr(node, "args", None)
        if arguments is not None:
            for argument in [*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs]:
                if _annotation_is(argument.annotation, "list"):
                    self.names[argument.arg] = "list"
                elif _annotation_is(argument.annotation, "instance"):
                    self.names[argument.arg] = "instance"
        for _ in range(3):  # a name may be bound from another bound later in the text
            for child in _own_nodes(node):
                self._bind(child)

    def kind(self, node) -> str | None:
        if isinstance(node, ast.Name):
            return self.names.get(node.id)
        if isinstance(node, ast.Attribute) and node.attr in ("objects", "_default_manager") and _is_model(node.value):
            return "queryset"
        if isinstance(node, ast.Subscript):
            inner = self.kind(node.value)
            if inner == "queryset":
                return "instance" if isinstance(node.slice, ast.Constant) else "queryset"
            return "instance" if inner == "list" else None
        if isinstance(node, ast.Call):
            function = node.func
            if _is_model(function):
                return "instance"
            if isinstance(function, ast.Name):
                if function.id in self.returns_queryset:
                    return "queryset"
                if function.id in ("list", "sorted") and node.args and self.kind(node.args[0]) in ("queryset", "list"):
                    return "list"
                return None
            if isinstance(function, ast.Attribute) and self.kind(function.value) == "queryset":
                if function.attr in ONE_ROW:
                    return "instance"
                return None if function.attr in NOT_A_QUERYSET else "queryset"
        if isinstance(node, ast.ListComp) and len(node.generators) == 1:
            generator = node.generators[0]
            if (
                self.kind(generator.iter) in ("queryset", "list")
                and isinstance(node.elt, ast.Name)
                and isinstance(generator.target, ast.Name)
                and node.elt.id == generator.target.id
            ):
                return "list"
        return None

    def _bind(self, node) -> None:
        if isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            value = node.value
            if value is None:
                return
            for target in targets:
                if isinstance(target, ast.Name):
                    self._set(target.id, self.kind(value))
                elif isinstance(target, ast.Tuple) and isinstance(value, ast.Call):
                    # obj, created = Message.objects.get_or_create(…)
                    function = value.func
                    if (
                        isinstance(function, ast.Attribute)
                        and function.attr in ("get_or_create", "update_or_create")
                        and self.kind(function.value) == "queryset"
                        and target.elts
                        and isinstance(target.elts[0], ast.Name)
                    ):
                        self._set(target.elts[0].id, "instance")
        elif isinstance(node, ast.For | ast.AsyncFor | ast.comprehension):
            if self.kind(node.iter) in ("queryset", "list") and isinstance(node.target, ast.Name):
                self._set(node.target.id, "instance")
        elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
            self._set(node.optional_vars.id, self.kind(node.context_expr))

    def _set(self, name: str, kind: str | None) -> None:
        if kind is not None:
            self.names[name] = kind


def _own_nodes(scope):
    """The nodes of a function (or module) body, not those of the functions and classes defined inside it."""
    stack = list(ast.iter_child_nodes(scope))
    while stack:
        node = stack.pop()
        yield node
        if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.Lambda):
            stack.extend(ast.iter_child_nodes(node))


def _scopes(tree):
    yield "<module>", tree
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            yield node.name, node


def _functions_returning_querysets(tree) -> set[str]:
    found: set[str] = set()
    for _ in range(3):
        for name, node in _scopes(tree):
            if name == "<module>":
                continue
            scope = _Scope(node, found)
            if any(
                isinstance(child, ast.Return) and child.value is not None and scope.kind(child.value) == "queryset"
                for child in _own_nodes(node)
            ):
                found.add(name)
    return found


def _chain_says_inbound(node, scope: _Scope) -> bool:
    """Whether a queryset expression filters on inbound texts somewhere along its chain."""
    while isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
        if node.func.attr == "inbound" or (node.func.attr in ("filter", "create") and _says_inbound(node)):
            return True
        node = node.func.value
    return False


def _table_aliases(tree) -> set[str]:
    """Names bound to Message._meta.db_table anywhere in the module (also by tuple unpacking)."""
    aliases = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assign):
            pairs = []
            for target in node.targets:
                if isinstance(target, ast.Tuple) and isinstance(node.value, ast.Tuple):
                    pairs += zip(target.elts, node.value.elts, strict=False)
                else:
                    pairs.append((target, node.value))
            for target, value in pairs:
                if isinstance(target, ast.Name) and _is_message_table(value, set()):
                    aliases.add(target.id)
    return aliases


def _is_message_table(node, aliases: set[str]) -> bool:
    if isinstance(node, ast.Name):
        return node.id in aliases
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "quote_name":
        return bool(node.args) and _is_message_table(node.args[0], aliases)
    return (
        isinstance(node, ast.Attribute)
        and node.attr == "db_table"
        and isinstance(node.value, ast.Attribute)
        and node.value.attr == "_meta"
        and _is_model(node.value.value)
    )


def _sql_write_on_messages(node, aliases: set[str]) -> bool:
    if isinstance(node, ast.JoinedStr):
        text = "".join(part.value for part in node.values if isinstance(part, ast.Constant)).lower()
        names_table = any(
            isinstance(part, ast.FormattedValue) and _is_message_table(part.value, aliases) for part in node.values
        )
        return names_table and any(word in text for word in SQL_WRITES)
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return bool(SQL_WRITE_ON_THE_TABLE.search(node.value))
    return False


def outbox_writes(source: str, path: str) -> list[Write]:
    """Every write of an outbound text's state in one module's source."""
    tree = ast.parse(source, filename=path)
    returns_queryset = _functions_returning_querysets(tree)
    aliases = _table_aliases(tree)
    found = []
    for function, node in _scopes(tree):
        scope = _Scope(node, returns_queryset)

        def report(at, what, function=function):
            found.append(Write(path, at.lineno, function, what))

        for child in _own_nodes(node):
            if isinstance(child, ast.Call) and isinstance(child.func, ast.Attribute):
                method, receiver = child.func.attr, child.func.value
                if scope.kind(receiver) == "queryset" and method in WRITES:
                    if method in CREATES:
                        if not _says_inbound(child):
                            report(child, f"Message .{method}() of a text that is not inbound")
                    elif method == "update":
                        fields = {k.arg for k in child.keywords}
                        touched = STATE_FIELDS & fields if None not in fields else {"**"}
                        if touched and not _chain_says_inbound(receiver, scope):
                            report(child, f"Message .update() of {', '.join(sorted(touched))}")
                    elif method == "bulk_update":
                        given = child.args[1] if len(child.args) > 1 else None
                        given = next((k.value for k in child.keywords if k.arg == "fields"), given)
                        names = _field_names(given)
                        if names is None or names & STATE_FIELDS:
                            report(child, f"Message .bulk_update() of {sorted(names or ['?'])}")
                    elif method == "delete":
                        if not _chain_says_inbound(receiver, scope):
                            report(child, "Message .delete()")
                    else:
                        report(child, f"Message .{method}()")
                elif method == "save" and scope.kind(receiver) == "instance":
                    given = next((k.value for k in child.keywords if k.arg == "update_fields"), None)
                    names = _field_names(given) if given is not None else None
                    if given is None or names is None or names & STATE_FIELDS:
                        report(child, "Message .save() of its state")
            if isinstance(child, ast.Call):
                name = getattr(child.func, "id", None) or getattr(child.func, "attr", "")
                handed = [arg for arg in child.args if _is_model(arg) or _is_message_table(arg, aliases)]
                if handed and any(word in name.lower() for word in BULK_WRITER_WORDS):
                    report(child, f"the Message model or table handed to {name}()")
            if isinstance(child, ast.Assign | ast.AugAssign | ast.AnnAssign):
                targets = child.targets if isinstance(child, ast.Assign) else [child.target]
                for target in targets:
                    for element in target.elts if isinstance(target, ast.Tuple) else [target]:
                        if (
                            isinstance(element, ast.Attribute)
                            and element.attr in STATE_FIELDS
                            and scope.kind(element.value) == "instance"
                        ):
                            report(element, f"a Message's {element.attr} assigned")
            if _sql_write_on_messages(child, aliases):
                report(child, "SQL that writes the message table")
    return sorted(set(found), key=lambda write: write.line)


def project_modules():
    for path in sorted(ROOT.rglob("*.py")):
        relative = path.relative_to(ROOT)
        if SKIPPED_DIRECTORIES & set(relative.parts[:-1]) or relative.as_posix().startswith(OUTBOX):
            continue
        yield relative.as_posix(), path


def test_only_the_outbox_writes_message_state():
    writes = []
    for relative, path in project_modules():
        writes += [w for w in outbox_writes(path.read_text(), relative) if (w.path, w.function) not in ALLOWED]
    assert not writes, "only conversations/outbox/ may write a text's state; call its services:\n" + "\n".join(
        map(str, writes)
    )


def test_every_allowed_write_is_still_there():
    """An allow-list entry whose write went away is taken out, so the list never hides a new write."""
    seen = {
        (w.path, w.function) for relative, path in project_modules() for w in outbox_writes(path.read_text(), relative)
    }
    assert set(ALLOWED) <= seen, set(ALLOWED) - seen


def test_the_outbox_itself_is_found_writing():
    """The check sees the outbox's own writes: it reads the files it should."""
    sending = ROOT / "conversations/outbox/sending.py"
    assert len(outbox_writes(sending.read_text(), "conversations/outbox/sending.py")) > 10


OFFENDING = """
from conversations.models import Message

FOREVER = None
SQL = f"UPDATE {Message._meta.db_table} SET status = 'failed'"


def pause(run):
    Message.objects.filter(origin="flow", origin_id=run.pk, status="queued").update(not_before=FOREVER)


def texts_of(run):
    return Message.objects.filter(origin="flow", origin_id=run.pk)


def cancel(run):
    waiting = texts_of(run).filter(status="queued")
    waiting.update(status="failed", error_code="flow_ended")
    texts_of(run).delete()


def fail(message: Message):
    message.status = "failed"
    message.save(update_fields=["status", "updated_at"])


def retry(ids):
    for text in Message.objects.filter(pk__in=ids):
        text.attempts += 1
        text.save()
    rows = list(Message.objects.filter(pk__in=ids))
    for row in rows:
        row.claim, row.claimed_until = "", None
    Message.objects.bulk_update(rows, ["claim", "claimed_until"])


def queue(subscriber):
    Message.objects.create(subscriber=subscriber, direction="outbound", status="queued", body="hi")
    Message.objects.bulk_create([Message(subscriber=subscriber, body="hi")])
    one = Message.objects.select_for_update().get(pk=1)
    one.sent_at = None
    one.save(update_fields=["sent_at"])


def load(rows):
    _insert(Message, ["status"], rows)
    insert_rows(Message._meta.db_table, ["status"], rows)


def raw(cursor):
    table = Message._meta.db_table
    cursor.execute(f"INSERT INTO {table} (status) VALUES ('queued')")
    cursor.execute("DELETE FROM conversations_message WHERE status = 'queued'")
"""

ALLOWED_SNIPPET = """
from conversations.models import Message


def receive(subscriber, body):
    message = Message.objects.create(subscriber=subscriber, direction=Message.Direction.INBOUND, body=body,
                                     status=Message.Status.RECEIVED)
    Message.objects.filter(pk=message.pk).update(processed_at=None, created_at=None)
    Message.objects.inbound().filter(pk=message.pk).update(attempts=1)
    Message.objects.filter(direction="inbound", pk=1).update(status="received")


def read(subscriber: object):
    texts = Message.objects.filter(subscriber=subscriber, status="sent")
    counts = texts.count()
    subscriber.status = "unsubscribed"
    subscriber.save(update_fields=["status"])
    campaign = object()
    campaign.status = "sent"
    sql = f"SELECT status FROM {Message._meta.db_table}"
    return counts, sql, list(texts)[0].body
"""


def test_the_check_catches_each_kind_of_write():
    writes = outbox_writes(OFFENDING, "example.py")
    caught = {(w.function, w.what) for w in writes}
    lines = {w.line for w in writes}
    source = OFFENDING.splitlines()
    for expected in [
        "SET status",
        ".update(not_before",
        'waiting.update(status="failed"',
        "texts_of(run).delete()",
        'message.status = "failed"',
        'message.save(update_fields=["status"',
        "text.attempts += 1",
        "text.save()",
        'row.claim, row.claimed_until = "", None',
        'bulk_update(rows, ["claim"',
        'direction="outbound", status="queued"',
        "bulk_create(",
        "one.sent_at = None",
        'one.save(update_fields=["sent_at"])',
        "_insert(Message",
        "insert_rows(Message._meta.db_table",
        "INSERT INTO {table}",
        "DELETE FROM conversations_message",
    ]:
        line = next(number for number, text in enumerate(source, start=1) if expected in text)
        assert line in lines, (expected, sorted(caught))


def test_the_check_lets_inbound_texts_and_reads_through():
    assert outbox_writes(ALLOWED_SNIPPET, "example.py") == []
