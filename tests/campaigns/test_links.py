"""The campaign text: parsing, problems named, and filling in Python (the SQL twin is checked in test_fanout)."""

import pytest
from django.core.exceptions import ValidationError

from campaigns import template

SPECS = {
    "size": {"type": "single_choice", "labels": {"M": "Medium", "L": "Large"}},
    "diet": {"type": "multiple_choice", "labels": {"vegan": "Vegan", "gf": "Gluten-free"}},
    "vip": {"type": "yes_no", "labels": {}},
    "age": {"type": "number", "labels": {}},
}


def fill(body, subscriber=None, link_url="https://shop.example/new"):
    parsed = template.parse(body, link_url=link_url, attributes=SPECS)
    values = {**(subscriber or {}), "labels": {k: v["labels"] for k, v in SPECS.items()}}
    return template.render(parsed, values, store="Acme", link_for=lambda letter, url: f"<{letter}:{url}>")


def test_variables_defaults_and_labels():
    person = {"first_name": "Ana", "attributes": {"size": "M", "diet": ["vegan", "gf"], "vip": True, "age": 31}}
    assert fill("Hi {{ first_name }}", person) == "Hi Ana"
    assert fill('Hi {{ last_name|default:"friend" }}', person) == "Hi friend"
    assert fill("{{ attributes.size }} / {{ attributes.size|label }}", person) == "M / Medium"
    assert fill("{{ attributes.diet|label }}", person) == "Vegan, Gluten-free"
    assert fill("{{attributes.vip}} {{ attributes.age }} {{ store }}", person) == "yes 31 Acme"
    assert fill('{{ first_name|default:"there" }}', {"first_name": ""}) == "there"


def test_links_get_letters_in_order_and_repeat_the_same_letter():
    parsed = template.parse(
        "Shop {{ link }} or https://shop.example/sale. Again: {{ link }} and (https://shop.example/faq)",
        link_url="https://shop.example/new",
    )
    assert parsed.links == {
        "g": "https://shop.example/new",
        "h": "https://shop.example/sale",
        "i": "https://shop.example/faq",
    }
    rendered = template.render(parsed, {}, store="", link_for=lambda letter, url: f"[{letter}]")
    assert rendered == "Shop [g] or [h]. Again: [g] and ([i])"


@pytest.mark.parametrize(
    ("body", "link_url", "problem"),
    [
        ("Hi {{ nickname }}", "", "unknown variable {{ nickname }}"),
        ("Hi {{ attributes.shoe }}", "", "unknown variable {{ attributes.shoe }}"),
        ("Go {{ link }}", "", "has no link URL"),
        ("Hi {{ first_name|upper }}", "", "filters a campaign text may use"),
        ("Hi {{ first_name|label }}", "", "filters a campaign text may use"),
        ("Hi {{ attributes.age|label }}", "", "has no options with labels"),
        ("Hi {{ first_name }", "", '"{{" or "}}"'),
        ('{{ link|default:"x" }}', "https://a.example", "takes no filters"),
        ("Go {{ link }}", "http://shop.example/new", "links must be https"),
        ("Sale at https://bit.ly/3xYz now", "", "bit.ly is a public link shortener"),
        ("Sale at https://www.TinyURL.com/abc", "", "tinyurl.com is a public link shortener"),
        ("{{ link }} and https://shop.example/faq", "https://shop.example/new", "at most 1 link (this one has 2)"),
    ],
)
def test_problems_are_named(body, link_url, problem):
    with pytest.raises(ValidationError) as error:
        template.parse(body, link_url=link_url, attributes=SPECS, max_links=1)
    assert any(problem in message for message in error.value.messages), error.value.messages


def test_codes_are_checked_and_unguessable_without_the_secret():
    code = template.link_code("s3cret", 4242, "g")
    assert template.code_parts(code) == (4242, "g", template.link_check("s3cret", 4242, "g"))
    assert template.link_check("other", 4242, "g") != template.link_check("s3cret", 4242, "g")
    for bad in ["", "zz", "1092g", "1092gabcde1", "1092Gabcde", "../etc", "1092a12345"]:
        assert template.code_parts(bad) is None


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
