"""Views, API endpoints and admin pages write through services: none of them writes a model itself.

architecture.md: a view or an API endpoint parses, checks permission, calls one service, and renders; every write
and every side effect is a service. Three checks hold the HTTP modules of conversations, flows, segments, campaigns
and commerce (`views.py`, `*_views.py`, `api.py`, `admin.py` and the `admin/` package, the inbox's and the sign-up's
among them) to it:

- Their source, read with `ast`: no `.save()`, `.delete()`, `.create()`, `.bulk_create()`, `.bulk_update()`,
  `.get_or_create()`, `.update_or_create()`, no `.update()` on a queryset (`X.objects…`, `….filter(…)`), no
  many-to-many `.add()`/`.remove()`/`.set()`/`.clear()` on a relation (`subscriber.tags.add`), no
  `super().save_model()`/`delete_model()`/`delete_queryset()`/`save_formset()`, no SQL through a cursor.
- The Django admin, as registered: a page that may add, change or delete with Django's own `save_model`,
  `delete_model` or `delete_queryset` (which write the row as the form has it) must be one whose model has no rule.
- The REST viewsets: a create, update or destroy of DRF's mixins must go through a service (`perform_*` or the
  action itself overridden).

What stays is in the allow-lists below, each with its reason; an entry that no longer matches anything fails too,
so the lists never hold more than the code does.
"""

import ast
import importlib
import inspect
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.contrib import admin
from django.contrib.admin import ModelAdmin
from django.contrib.auth.models import User
from django.test import RequestFactory
from rest_framework import mixins, viewsets

ROOT = Path(__file__).resolve().parent.parent
APPS = ["conversations", "flows", "segments", "campaigns", "commerce"]

# Model writes a call names outright.
WRITES = {"save", "delete", "create", "bulk_create", "bulk_update", "get_or_create", "update_or_create"}
# The admin's own writers, when a page hands the work back to Django.
ADMIN_WRITES = {"save_model", "delete_model", "delete_queryset", "save_formset"}
# A many-to-many relation changed in place.
RELATION_WRITES = {"add", "remove", "set", "clear"}
# Receivers of .add()/.clear()… that are not relations.
NOT_RELATIONS = {"session", "headers", "GET", "POST", "META", "COOKIES", "FILES", "cookies"}
# What makes the receiver of .update() a queryset (a dict's update is fine).
QUERYSET_WORDS = {"objects", "filter", "exclude", "all", "select_for_update", "select_related", "only", "defer"}
SQL = {"execute", "executemany", "cursor"}

# Explicit calls that stay: (path, function, method) -> why.
ALLOWED_CALLS = {
    ("conversations/signup/views.py", "qr", "save"): (
        "segno's QRCode.save writes the image of the QR code into the HTTP response; no model is saved"
    ),
    ("conversations/views.py", "health", "cursor"): "the health check's SELECT 1, which reads",
    ("conversations/views.py", "health", "execute"): "the health check's SELECT 1, which reads",
    ("conversations/admin/subscribers.py", "SubscriberAdmin.save_related", "save_formset"): (
        "the subscriber page has no inlines, so this saves nothing; it is there so that Django's save_m2m does not "
        "write the tags again after subscriber_create/subscriber_update did"
    ),
}

# Admin pages that keep Django's default save or delete: (model label, what) -> why. `what` is save_model for
# adding or changing, delete for delete_model and delete_queryset.
ALLOWED_ADMIN_DEFAULTS = {
    ("conversations.Tag", "save_model"): "a tag is a unique slug and nothing more; no rule to apply",
    ("conversations.Tag", "delete"): "deleting a tag takes it off its subscribers (the join rows cascade); no rule",
    ("conversations.CannedResponse", "save_model"): (
        "a canned response is a title and a body that agents pick from a list; the body is filled in, with its "
        "variables checked, when an agent uses it"
    ),
    ("conversations.CannedResponse", "delete"): "agents stop seeing it in their list; nothing refers to it",
    ("conversations.AttributeDefinition", "delete"): (
        "subscribers keep the values they gave (attributes are JSON on the subscriber, history in AttributeChange); "
        "flows and segments that name the key report it in their checks"
    ),
    ("conversations.ApiToken", "delete"): "the token stops working at once, as a revoked one does; nothing else",
    ("conversations.SignupForm", "delete"): (
        "the form's page and pop-up stop answering; consent records keep the form's slug and wording as text"
    ),
    ("flows.Flow", "delete"): (
        "the flow goes with its versions, runs and results by the database's cascades; its keywords and event "
        "triggers stop with it"
    ),
    # Records the product writes, shown read-only (ReadOnlyAdmin); a superuser may still delete one by hand.
    ("conversations.Message", "delete"): (
        "a text deleted by hand from the record; the outbox never finds it again (a queued one is not sent)"
    ),
    ("conversations.Event", "delete"): "an event deleted by hand; an attribution made from it goes with it",
    ("conversations.Conversation", "delete"): (
        "an inbox conversation deleted by hand; runs it paused resume at the next due-work check (runs_pause_check)"
    ),
    ("conversations.HelpdeskDelivery", "delete"): "a line of the help-desk webhook's delivery log",
    ("flows.FlowRun", "delete"): (
        "a run deleted by hand goes with its results (the database's cascade); texts it queued are not taken back"
    ),
    ("flows.FlowVersion", "delete"): "refused by the database while a run uses the version (PROTECT); else history",
    ("flows.OfferCode", "save_model"): (
        "offer codes are loaded into a pool by hand: a unique code, a pool name; flows claim them (_claim_offer)"
    ),
    ("flows.OfferCode", "delete"): "a code taken out of its pool; one already texted stays in the text as sent",
    ("segments.Segment", "save_model"): (
        "never reached: add_view and change_view redirect to the segment builder (segment_create/segment_update)"
    ),
    ("campaigns.Campaign", "save_model"): (
        "never reached: add_view and change_view redirect to the compose pages (campaign_save)"
    ),
}

# A default create, update or destroy of a REST viewset that stays: (path, class, action) -> why.
ALLOWED_VIEWSET_DEFAULTS: dict[tuple[str, str, str], str] = {}


@dataclass(frozen=True)
class Write:
    path: str
    line: int
    function: str
    method: str

    def __str__(self):
        return f"{self.path}:{self.line} in {self.function}: .{self.method}()"


def _names(node) -> list[str]:
    """The names along a receiver chain, outermost first: `a.objects.filter(x)` gives [filter, objects, a]."""
    names = []
    while True:
        if isinstance(node, ast.Call):
            node = node.func
        elif isinstance(node, ast.Attribute):
            names.append(node.attr)
            node = node.value
        elif isinstance(node, ast.Subscript):
            node = node.value
        else:
            if isinstance(node, ast.Name):
                names.append(node.id)
            return names


def _is_super_call(node) -> bool:
    return isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "super"


def _write_in(call: ast.Call) -> str | None:
    """The method name if this call writes a model (or hands the writing to the admin's default), else None."""
    func = call.func
    if not isinstance(func, ast.Attribute):
        return None
    method, receiver = func.attr, func.value
    if method in WRITES:
        return method
    if method in ADMIN_WRITES:
        return method if _is_super_call(receiver) or method == "save_formset" else None
    if method == "update":
        chain = _names(receiver)
        return method if isinstance(receiver, ast.Call) or QUERYSET_WORDS & set(chain) else None
    if method in RELATION_WRITES:
        return method if isinstance(receiver, ast.Attribute) and receiver.attr not in NOT_RELATIONS else None
    if method in SQL:
        return method
    return None


def writes_in_source(source: str, path: str) -> list[Write]:
    """Every direct model write in a module's source, with the function (Class.method) it is in."""
    found = []

    def visit(node, scope: list[str]):
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                visit(child, [*scope, child.name])
                continue
            if isinstance(child, ast.Call) and (method := _write_in(child)):
                found.append(Write(path, child.lineno, ".".join(scope) or "<module>", method))
            visit(child, scope)

    visit(ast.parse(source), [])
    return found


def http_modules() -> list[Path]:
    paths = []
    for app in APPS:
        for path in sorted((ROOT / app).rglob("*.py")):
            relative = path.relative_to(ROOT)
            if "migrations" in relative.parts:
                continue
            http = path.name in ("views.py", "api.py", "admin.py") or path.name.endswith("_views.py")
            if http or "admin" in relative.parts[:-1]:  # conversations/admin/ is the admin as a package
                paths.append(path)
    return paths


def test_the_http_modules_are_found():
    found = {str(path.relative_to(ROOT)) for path in http_modules()}
    for expected in (
        "flows/views.py",
        "flows/api.py",
        "conversations/inbox/views.py",
        "conversations/signup/views.py",
        "conversations/signup/admin.py",
        "conversations/admin/subscribers.py",
        "segments/api.py",
        "campaigns/admin.py",
    ):
        assert expected in found


def test_no_view_api_or_admin_module_writes_a_model_itself():
    found = [write for path in http_modules() for write in writes_in_source(path.read_text(), _relative(path))]
    unexplained = [str(w) for w in found if (w.path, w.function, w.method) not in ALLOWED_CALLS]
    assert not unexplained, "write through a service instead (or allow it here, with the reason):\n" + "\n".join(
        unexplained
    )
    stale = set(ALLOWED_CALLS) - {(w.path, w.function, w.method) for w in found}
    assert not stale, f"allowed writes that are no longer there: {sorted(stale)}"


def test_the_check_catches_each_kind_of_write():
    offending = """
def node_save(request, pk):
    flow = Flow.objects.get(pk=pk)
    flow.draft = {}
    flow.save(update_fields=["draft"])
    Flow.objects.filter(pk=pk).update(status="active")
    Event.objects.create(type="order_placed")
    Tag.objects.get_or_create(name="vip")
    subscriber.tags.add(tag)
    form.save()
    Segment.objects.all().delete()
    connection.cursor().execute("DELETE FROM flows_flow")

class SegmentAdmin(admin.ModelAdmin):
    def save_model(self, request, obj, form, change):
        super().save_model(request, obj, form, change)
"""
    found = writes_in_source(offending, "flows/views.py")
    assert [(w.function, w.method) for w in found] == [
        ("node_save", "save"),
        ("node_save", "update"),
        ("node_save", "create"),
        ("node_save", "get_or_create"),
        ("node_save", "add"),
        ("node_save", "save"),
        ("node_save", "delete"),
        ("node_save", "execute"),
        ("node_save", "cursor"),
        ("SegmentAdmin.save_model", "save_model"),
    ]
    harmless = """
def page(request):
    context = {}
    context.update(title="Flows")
    seen = set()
    seen.add(1)
    request.session.clear()
    services.flow_draft_node_save(flow_id=1, node_id="a", form=request.POST)
    return render(request, "x.html", context)
"""
    assert writes_in_source(harmless, "flows/views.py") == []


# --- The admin as registered -----------------------------------------------------------------------------------


def _superuser_request():
    request = RequestFactory().get("/admin/")
    request.user = User(username="audit", is_active=True, is_staff=True, is_superuser=True)
    return request


def _own(model_admin, name: str) -> bool:
    return getattr(type(model_admin), name) is not getattr(ModelAdmin, name)


def admin_defaults() -> set[tuple[str, str]]:
    """(model, save_model | delete) for every admin page whose writes would be Django's default ones."""
    request, found = _superuser_request(), set()
    for model, model_admin in admin.site._registry.items():
        if model._meta.app_label not in APPS:
            continue
        label = model._meta.label
        may_write = model_admin.has_add_permission(request) or model_admin.has_change_permission(request)
        if may_write and not _own(model_admin, "save_model"):
            found.add((label, "save_model"))
        if model_admin.has_delete_permission(request) and not (
            _own(model_admin, "delete_model") and _own(model_admin, "delete_queryset")
        ):
            found.add((label, "delete"))
        for inline in model_admin.get_inline_instances(request):
            if may_write and (
                inline.has_add_permission(request, None)
                or inline.has_change_permission(request)
                or (inline.can_delete and inline.has_delete_permission(request))
            ):
                found.add((inline.model._meta.label, f"inline of {label}"))
    return found


def test_admin_pages_write_through_services_unless_their_model_has_no_rule():
    found = admin_defaults()
    unexplained = sorted(found - set(ALLOWED_ADMIN_DEFAULTS))
    assert not unexplained, "override save_model/delete_model/delete_queryset with a service call: " + repr(unexplained)
    stale = sorted(set(ALLOWED_ADMIN_DEFAULTS) - found)
    assert not stale, f"allowed admin defaults that are no longer there: {stale}"


# --- The REST viewsets -----------------------------------------------------------------------------------------

DEFAULT_WRITES = [
    (mixins.CreateModelMixin, "create", ["perform_create", "create"]),
    (mixins.UpdateModelMixin, "update", ["perform_update", "update"]),
    (mixins.DestroyModelMixin, "destroy", ["perform_destroy", "destroy"]),
]


def default_writes_of(viewset: type) -> list[str]:
    """The actions of a viewset that would write as DRF's mixins do (serializer.save(), instance.delete())."""
    return [
        action
        for mixin, action, overrides in DEFAULT_WRITES
        if issubclass(viewset, mixin) and all(getattr(viewset, name) is getattr(mixin, name) for name in overrides)
    ]


def viewset_defaults() -> set[tuple[str, str, str]]:
    found = set()
    for path in http_modules():
        if path.name != "api.py":
            continue
        module = importlib.import_module(".".join(path.relative_to(ROOT).with_suffix("").parts))
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, viewsets.GenericViewSet) and cls.__module__ == module.__name__:
                found.update((_relative(path), name, action) for action in default_writes_of(cls))
    return found


def test_rest_viewsets_write_through_services():
    found = viewset_defaults()
    unexplained = sorted(found - set(ALLOWED_VIEWSET_DEFAULTS))
    assert not unexplained, f"override perform_create/perform_update/perform_destroy with a service: {unexplained}"
    assert not set(ALLOWED_VIEWSET_DEFAULTS) - found


@pytest.mark.parametrize(
    ("mixin", "expected"),
    [(mixins.CreateModelMixin, "create"), (mixins.DestroyModelMixin, "destroy")],
)
def test_the_viewset_check_catches_a_default_write(mixin, expected):
    offending = type("OffendingViewSet", (mixin, viewsets.GenericViewSet), {})
    assert default_writes_of(offending) == [expected]
    through_a_service = type("GoodViewSet", (offending,), {f"perform_{expected}": lambda self, arg: None})
    assert default_writes_of(through_a_service) == []


def _relative(path: Path) -> str:
    return str(path.relative_to(ROOT))
