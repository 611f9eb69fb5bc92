"""The one text template language: reading, the rules and their problems, filling in Python, and the SQL
twin that the campaign fan-out runs, held to the same result for every variable kind and every filter on
whichever database the suite runs on (SQLite by default, PostgreSQL with DATABASE_URL)."""

import itertools

import pytest
from django.db import connection

from conversations.models import Subscriber
from conversations.templating import Filter, Link, Scope, Variable, parse, problems, render
from conversations.templating import sql as templating_sql
from tests.factories import SubscriberFactory

LABELS = {
    "size": {"M": "Medium", "L": "Large"},
    "gifts": {"mom": "Mom", "dad": "Dad"},
    "vip": {},
    "points": {},
    "nick": {},
    "birthday": {},
}
SCOPE = Scope(LABELS, names=("offer_code",))


def messages(text, scope=SCOPE):
    return [str(problem) for problem in problems(parse(text), scope)]


# --- Reading (pure) ------------------------------------------------------------------------------------------


def test_a_text_is_read_into_text_variables_and_filters():
    template = parse('Hi {{ first_name|default:"there"|upper }}, size {{attributes.size | label}}!')
    assert template.parts == (
        "Hi ",
        Variable(
            ("first_name",),
            (Filter("default", "there"), Filter("upper")),
            '{{ first_name|default:"there"|upper }}',
        ),
        ", size ",
        Variable(("attributes", "size"), (Filter("label"),), "{{attributes.size | label}}"),
        "!",
    )
    assert template.syntax_problems == ()


def test_single_quotes_spaces_and_event_paths_are_read():
    template = parse("{{ first_name | default : 'you' }} {{ event.items.0.title }}")
    first, event = template.variables
    assert first.filters == (Filter("default", "you"),)
    assert event.path == ("event", "items", "0", "title") and event.root == "event"


def test_what_cannot_be_read_stays_as_written_and_is_named():
    template = parse("Hi {{ First Name }} and {{ first_name }")
    assert template.parts == ("Hi {{ First Name }} and {{ first_name }",)
    assert template.syntax_problems == (
        "cannot read {{ First Name }}: a variable is a name such as first_name or attributes.size, then filters "
        'such as |default:"there"',
        'a "{{" or "}}" is not part of a variable; write variables as {{ first_name }}',
    )
    assert render(template, {"first_name": "Ana"}) == "Hi {{ First Name }} and {{ first_name }"


def test_links_are_parts_only_when_the_caller_asks():
    assert parse("See https://shop.example/a. {{ link }}").variables[0].name == "link"
    template = parse("See https://shop.example/a. {{ link }}", links=True)
    assert template.parts == (
        "See ",
        Link("https://shop.example/a", "https://shop.example/a"),
        ". ",
        Link(None, "{{ link }}"),
    )
    assert template.link_urls("https://shop.example/b") == ["https://shop.example/a", "https://shop.example/b"]
    assert render(template, {}, link_for=lambda url: f"<{url}>") == "See <https://shop.example/a>. <None>"


def test_reading_is_cached():
    assert parse("Hi {{ first_name }}") is parse("Hi {{ first_name }}")


# --- The rules ---------------------------------------------------------------------------------------------


def test_the_standard_variables_attributes_and_the_callers_names_are_known():
    text = (
        '{{ first_name|default:"there" }} {{ last_name|upper }} {{ phone }} {{ store|title }} '
        "{{ attributes.size|label|lower }} {{ attributes.points }} {{ offer_code }}"
    )
    assert messages(text) == []


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        (
            "Hi {{ frist_name }}",
            "unknown variable {{ frist_name }}; use first_name, last_name, phone, store or offer_code",
        ),
        ("{{ attributes.shoe }}", "unknown variable {{ attributes.shoe }}"),
        ("{{ attributes }}", "unknown variable {{ attributes }}"),
        ("{{ attributes.size.value }}", "unknown variable {{ attributes.size.value }}"),
        ("{{ first_name.first }}", "unknown variable {{ first_name.first }}"),
        ("{{ link }}", "unknown variable {{ link }}"),
        (
            "{{ event.url }}",
            "unknown variable {{ event.url }}: event properties exist only in a text sent for an event",
        ),
        (
            "{{ first_name|capfirst }}",
            "unknown filter 'capfirst' in {{ first_name|capfirst }}; the filters are default",
        ),
        ("{{ first_name|label }}", "filter 'label' needs an attribute with options: {{ first_name|label }}"),
        ("{{ attributes.points|label }}", "filter 'label' needs an attribute with options"),
        ("{{ first_name|default }}", "filter 'default' needs a text in quotes: {{ first_name|default:\"…\" }}"),
        ('{{ first_name|upper:"x" }}', "filter 'upper' takes no argument"),
        ("{{ first_name }", 'a "{{" or "}}" is not part of a variable'),
    ],
)
def test_problems_name_what_is_wrong(text, problem):
    found = messages(text)
    assert any(message.startswith(problem) for message in found), found


def test_the_event_namespace_is_there_when_the_caller_supplies_it():
    scope = Scope(LABELS, event=True)
    assert messages("{{ event.url }} {{ event.items.0.title|upper }}", scope) == []
    assert messages("{{ event }}", scope) == [
        "{{ event }} needs a property: {{ event.url }}, {{ event.items.0.title }}"
    ]
    values = {"event": {"url": "https://shop.example/cart", "items": [{"title": "Lip balm"}]}}
    assert render("{{ event.url }} {{ event.items.0.title|upper }} {{ event.items.5.title }}", values) == (
        "https://shop.example/cart LIP BALM "
    )


def test_a_problem_has_a_short_message_for_a_flow_card_and_a_hint():
    (problem,) = problems(parse("{{ nickname }}"), Scope({}))
    assert problem.message == "unknown variable {{ nickname }}"
    assert problem.hint == "use first_name, last_name, phone or store, or an attribute (none defined)"


# --- Filling in Python -----------------------------------------------------------------------------------


PERSON = {
    "first_name": "ana",
    "last_name": "",
    "phone": "+14155550100",
    "store": "Acme Outfitters",
    "attributes": {"size": "M", "gifts": ["dad", "mom", 3, True], "vip": False, "points": 2.5, "other": {"a": 1}},
}


@pytest.mark.parametrize(
    ("text", "filled"),
    [
        ("Hi {{ first_name }} {{ last_name }}!", "Hi ana !"),
        ('{{ last_name|default:"friend" }} {{ first_name|default:"friend" }}', "friend ana"),
        ("{{ first_name|upper }} {{ first_name|title }} {{ store|lower }}", "ANA Ana acme outfitters"),
        ("{{ attributes.size }} {{ attributes.size|label }} {{ attributes.size|label|upper }}", "M Medium MEDIUM"),
        ("{{ attributes.gifts }} / {{ attributes.gifts|label }}", "dad, mom, 3, yes / Dad, Mom, 3, yes"),
        ("{{ attributes.vip }} {{ attributes.points }} [{{ attributes.other }}]", "no 2.5 []"),
        ('{{ attributes.missing|default:"none" }}|{{ nickname }}|', "none||"),
        # |label reads the stored value wherever it is written; the other filters go left to right.
        (
            '{{ attributes.size|upper|label }} {{ last_name|default:"x"|upper }} {{ last_name|upper|default:"x" }}',
            "MEDIUM X x",
        ),
        ('{{ last_name|default:"a"|default:"b" }}', "a"),
        ("{{ first_name|capfirst }}", "ana"),  # a filter that does not exist is skipped (the checks name it)
    ],
)
def test_filling_in_python(text, filled):
    assert render(text, PERSON, labels=LABELS) == filled


# --- Python and SQL agree --------------------------------------------------------------------------------

STORE = "Zoë's Shop"
NAMES = ["Ana", "", "łukasz", "STRAẞE straße", "o'neil mcdonald-smith 3rd", "İlkay ÉCOLE", "ǆemal ﬁn", 'Bo "B" 100%']
ATTRIBUTES = [
    {"size": "M", "gifts": ["dad", "mom"], "vip": True, "points": 12, "nick": "Zoë ✨", "birthday": "1990-05-01"},
    {"size": "XL", "gifts": [], "vip": False, "points": 2.5, "nick": ""},
    {"size": "L", "gifts": ["mom", "aunt", 3, 0.30000000000000004, True, None, {"a": 1}], "points": 0},
    {"size": None, "gifts": "mom", "vip": "yes", "points": 0.30000000000000004, "nick": ["x", "y"]},
    {"size": {"nested": "M"}, "gifts": {"mom": True}, "points": -7, "nick": "o'brien-smith"},
    {},
]
VARIABLES = [
    "first_name",
    "last_name",
    "phone",
    "store",
    *(f"attributes.{key}" for key in LABELS),
    "attributes.undefined",
]
FILTER_CHAINS = [
    "",
    '|default:"–fallback–"',
    "|label",
    "|upper",
    "|lower",
    "|title",
    '|label|lower|default:"them"',
    '|default:"there"|upper',
    '|upper|default:"x"',
    "|title|label",
]


@pytest.fixture
def people(db):
    for index, (first, attributes) in enumerate(itertools.zip_longest(NAMES, ATTRIBUTES, fillvalue={})):
        SubscriberFactory(first_name=first or "", last_name=NAMES[-index - 1] or "", attributes=attributes)
    return list(Subscriber.objects.order_by("id"))


def python_and_sql(text: str, people: list[Subscriber]) -> list[tuple[str, str]]:
    template = parse(text)
    body_sql, params = templating_sql.to_sql(template, connection=connection, labels=LABELS, constants={"store": STORE})
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT s.id, {body_sql} FROM {Subscriber._meta.db_table} s WHERE s.id IN "
            f"({', '.join('%s' for _ in people)}) ORDER BY s.id",
            [*params, *(person.pk for person in people)],
        )
        from_sql = dict(cursor.fetchall())
    pairs = []
    for person in people:
        values = {
            "first_name": person.first_name,
            "last_name": person.last_name,
            "phone": person.phone,
            "store": STORE,
            "attributes": person.attributes,
        }
        pairs.append((render(template, values, labels=LABELS), from_sql[person.pk]))
    return pairs


@pytest.mark.parametrize("chain", FILTER_CHAINS)
def test_sql_and_python_agree_for_every_variable_kind_and_filter(people, chain):
    text = " | ".join(f"{{{{ {variable}{chain} }}}}" for variable in VARIABLES)
    for from_python, from_sql in python_and_sql(text, people):
        assert from_sql == from_python


def test_the_agreement_covers_the_hard_cases(people):
    """Unicode case mapping (ß, İ, ǆ, ﬁ), title case after apostrophes and digits, numbers as written, lists."""
    pairs = dict(python_and_sql("{{ first_name|upper }}~{{ first_name|title }}~{{ attributes.gifts|label }}", people))
    assert "STRAẞE STRASSE~Straße Straße~Mom" in pairs
    assert "O'NEIL MCDONALD-SMITH 3RD~O'Neil Mcdonald-Smith 3Rd~" in pairs
    assert any(python.endswith("~Mom, aunt, 3, 0.30000000000000004, yes, , ") for python in pairs)
    assert any(python.endswith("~Dad, Mom") for python in pairs)


def test_literal_text_and_an_empty_text_compile(people):
    for from_python, from_sql in python_and_sql('100% {{ store }}\'s "best" %s %(x)s', people):
        assert from_sql == from_python == "100% Zoë's Shop's \"best\" %s %(x)s"
    for from_python, from_sql in python_and_sql("", people):
        assert from_sql == from_python == ""


def test_what_the_database_cannot_fill_is_refused():
    with pytest.raises(ValueError, match="cannot be filled by the database"):
        templating_sql.to_sql(parse("{{ event.url }}"), connection=connection, labels={}, constants={})


# --- The texts Parley ships --------------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("first_name", ["Ana", ""])
def test_the_shipped_canned_responses_read_as_they_did_with_djangos_engine(first_name):
    """Canned responses were Django templates; the ones Parley ships (and the admin's examples) read the same."""
    from django.template import Context, Engine

    from conversations.inbox.selectors import canned_scope
    from conversations.inbox.services import canned_render
    from conversations.models import CannedResponse

    shopper = SubscriberFactory(first_name=first_name, last_name="Lee", attributes={"size": "M"})
    examples = [CannedResponse(body='{{ first_name|default:"there" }} {{ last_name }} {{ attributes.size }}')]
    shipped = list(CannedResponse.objects.all())
    assert shipped, "the migration's canned responses"
    for canned in shipped + examples:
        assert problems(parse(canned.body), canned_scope()) == []
        django = Engine(builtins=[]).from_string(canned.body)
        context = Context(
            {"first_name": shopper.first_name, "last_name": shopper.last_name, "attributes": shopper.attributes},
            autoescape=False,
        )
        assert canned_render(canned, shopper) == django.render(context).strip()
