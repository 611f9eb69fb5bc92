"""A campaign text's links: letters in order, the problems carriers care about, short codes, the deploy checks.

The language itself (variables, filters, problems) and the agreement of its Python and SQL fillings are tested
in tests/conversations/test_templating.py; the fan-out's bodies in test_fanout.py.
"""

import pytest
from django.core.exceptions import ValidationError

from campaigns import links
from conversations import templating

SCOPE = templating.Scope(
    {"size": {"M": "Medium", "L": "Large"}, "diet": {"vegan": "Vegan", "gf": "Gluten-free"}, "vip": {}, "age": {}},
    names=("link",),
)


def read(body, link_url="https://shop.example/new", max_links=None):
    return links.campaign_text(body, link_url=link_url, scope=SCOPE, max_links=max_links)


def fill(body, subscriber=None, link_url="https://shop.example/new"):
    return read(body, link_url).render(
        subscriber or {},
        labels=SCOPE.attributes,
        store="Acme",
        link_for=lambda letter, url: f"<{letter}:{url}>",
    )


def test_variables_defaults_and_labels():
    person = {"first_name": "Ana", "attributes": {"size": "M", "diet": ["vegan", "gf"], "vip": True, "age": 31}}
    assert fill("Hi {{ first_name }}", person) == "Hi Ana"
    assert fill('Hi {{ last_name|default:"friend" }}', person) == "Hi friend"
    assert fill("{{ attributes.size }} / {{ attributes.size|label }}", person) == "M / Medium"
    assert fill("{{ attributes.diet|label }}", person) == "Vegan, Gluten-free"
    assert fill("{{attributes.vip}} {{ attributes.age }} {{ store }}", person) == "yes 31 Acme"
    assert fill('{{ first_name|default:"there" }}', {"first_name": ""}) == "there"
    assert fill("{{ first_name|upper }}: {{ link }}", person) == "ANA: <g:https://shop.example/new>"


def test_links_get_letters_in_order_and_repeat_the_same_letter():
    parsed = read("Shop {{ link }} or https://shop.example/sale. Again: {{ link }} and (https://shop.example/faq)")
    assert parsed.links == {
        "g": "https://shop.example/new",
        "h": "https://shop.example/sale",
        "i": "https://shop.example/faq",
    }
    rendered = parsed.render({}, labels={}, store="", link_for=lambda letter, url: f"[{letter}]")
    assert rendered == "Shop [g] or [h]. Again: [g] and ([i])"


def test_the_campaigns_link_written_out_shares_the_letter_of_link():
    parsed = read("{{ link }} https://shop.example/new")
    assert parsed.links == {"g": "https://shop.example/new"}


@pytest.mark.parametrize(
    ("body", "link_url", "problem"),
    [
        ("Hi {{ nickname }}", "", "unknown variable {{ nickname }}; use first_name, last_name, phone, store or link"),
        ("Hi {{ attributes.shoe }}", "", "unknown variable {{ attributes.shoe }}"),
        ("Go {{ link }}", "", "has no link URL"),
        ("Hi {{ first_name|shout }}", "", "unknown filter 'shout' in {{ first_name|shout }}"),
        ("Hi {{ first_name|label }}", "", "filter 'label' needs an attribute with options"),
        ("Hi {{ attributes.age|label }}", "", "filter 'label' needs an attribute with options"),
        ("Hi {{ first_name }", "", '"{{" or "}}"'),
        ('{{ link|default:"x" }}', "https://a.example", "takes no filters"),
        ("Go {{ link }}", "http://shop.example/new", "links must be https"),
        ("Sale at https://bit.ly/3xYz now", "", "bit.ly is a public link shortener"),
        ("Sale at https://www.TinyURL.com/abc", "", "tinyurl.com is a public link shortener"),
        ("{{ link }} and https://shop.example/faq", "https://shop.example/new", "at most 1 link (this one has 2)"),
        (" ".join(f"https://shop.example/{n}" for n in range(21)), "", "at most 20 different links"),
    ],
)
def test_problems_are_named(body, link_url, problem):
    with pytest.raises(ValidationError) as error:
        read(body, link_url, max_links=1 if "faq" in body else None)
    assert any(problem in message for message in error.value.messages), error.value.messages


def test_codes_are_checked_and_unguessable_without_the_secret():
    code = links.link_code("s3cret", 4242, "g")
    assert links.code_parts(code) == (4242, "g", links.link_check("s3cret", 4242, "g"))
    assert links.link_check("other", 4242, "g") != links.link_check("s3cret", 4242, "g")
    for bad in ["", "zz", "1092g", "1092gabcde1", "1092Gabcde", "../etc", "1092a12345"]:
        assert links.code_parts(bad) is None


def test_a_deployment_without_https_short_links_fails_the_deploy_checks(settings):
    from campaigns.checks import short_links_are_https

    settings.SHORT_LINK_BASE_URL = "http://127.0.0.1:8000"
    assert [error.id for error in short_links_are_https(None)] == ["parley.E002"]
    settings.SHORT_LINK_BASE_URL = "https://acme.link"
    assert short_links_are_https(None) == []


def test_a_real_provider_with_links_to_this_machine_fails_the_checks(settings):
    from campaigns.checks import short_links_reach_shoppers

    settings.SMS_PROVIDER, settings.SHORT_LINK_BASE_URL = "twilio", "http://127.0.0.1:8000"
    assert [error.id for error in short_links_reach_shoppers(None)] == ["parley.W001"]
    settings.SMS_PROVIDER = "console"
    assert short_links_reach_shoppers(None) == []
