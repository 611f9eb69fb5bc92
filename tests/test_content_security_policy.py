"""Every page carries the Content-Security-Policy (README, "Run it in production") and holds nothing it would refuse:
no inline <script> or <style>, no style="" or on…="" attributes. The browser tests load these pages in Chromium
and fail on any violation; this catches the markup without a browser."""

import re

import pytest
from django.core.management import call_command

from conversations.models import SignupForm
from flows.models import Flow
from tests.factories import UserFactory

POLICY = {
    "default-src": "'self'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self' data:",
    "object-src": "'none'",
    "base-uri": "'self'",
    "form-action": "'self'",
    "frame-ancestors": "'none'",
}
INLINE = [
    (re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/json\")[^>]*>", re.IGNORECASE), "inline <script>"),
    (re.compile(r"<style\b", re.IGNORECASE), "<style>"),
    (re.compile(r"\sstyle\s*=", re.IGNORECASE), "style attribute"),
    (re.compile(r"\son[a-z]+\s*=", re.IGNORECASE), "event handler attribute"),
    (re.compile(r"\shx-on", re.IGNORECASE), "hx-on (eval)"),
]


def directives(response) -> dict[str, str]:
    header = response["Content-Security-Policy"]
    return dict(part.strip().split(" ", 1) for part in header.split(";"))


def inline_code(html: str) -> list[str]:
    return [f"{what}: {match.group(0)!r}" for pattern, what in INLINE for match in pattern.finditer(html)]


@pytest.fixture
def owner(client, db):
    call_command("seed_demo", "--subscribers", "0")
    user = UserFactory(username="owner", is_staff=True, is_superuser=True)
    client.force_login(user)
    return user


def pages() -> dict[str, str]:
    quiz = Flow.objects.get(name="Welcome quiz")
    form = SignupForm.objects.get(slug="welcome")
    return {
        "admin index": "/admin/",
        "inbox": "/inbox/",
        "flow editor": f"/flows/{quiz.pk}/",
        "flow results": f"/flows/{quiz.pk}/results/",
        "segment builder": "/segments/new/",
        "campaign compose": "/campaigns/new/",
        "sign-up form in the admin": f"/admin/conversations/signupform/{form.pk}/change/",
        "sign-ups per day": "/signup/stats/",
        "hosted sign-up page": "/join/welcome/",
        "demo store": "/demo/store/",
        "API docs": "/api/docs/",
    }


def test_the_pages_carry_the_policy_and_no_inline_code(client, owner):
    for name, url in pages().items():
        response = client.get(url)
        assert response.status_code == 200, (name, url, response.status_code)
        assert {key: directives(response).get(key) for key in POLICY} == POLICY, name
        assert "unsafe" not in response["Content-Security-Policy"], name
        assert inline_code(response.content.decode()) == [], name


def test_a_campaigns_results_carry_the_policy_and_no_inline_code(client, owner):
    from campaigns.models import Campaign

    campaign = Campaign.objects.get()
    response = client.get(f"/campaigns/{campaign.pk}/results/")
    assert response.status_code == 200
    assert directives(response)["script-src"] == "'self'"
    assert inline_code(response.content.decode()) == []


def test_the_sign_up_preview_may_be_framed_by_parley_only(client, owner):
    response = client.get("/signup/preview/")
    assert directives(response)["frame-ancestors"] == "'self'"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert inline_code(response.content.decode()) == []
    assert directives(client.get("/admin/"))["frame-ancestors"] == "'none'"


def test_the_swagger_start_up_script_is_a_file(client, owner):
    page = client.get("/api/docs/").content.decode()
    assert '<script src="/api/docs/?script="></script>' in page
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200 and "SwaggerUIBundle(" in script.content.decode()


def test_a_store_adds_sources_through_the_environment(monkeypatch):
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("CSP_SCRIPT_SRC", "https://plausible.io")
    monkeypatch.setenv("CSP_CONNECT_SRC", "https://plausible.io, https://api.example.com")
    try:
        policy = importlib.reload(base).CONTENT_SECURITY_POLICY["DIRECTIVES"]
        assert policy["script-src"] == ["'self'", "https://plausible.io"]
        assert policy["connect-src"] == ["'self'", "https://plausible.io", "https://api.example.com"]
        assert policy["style-src"] == ["'self'"]
    finally:
        monkeypatch.undo()
        importlib.reload(base)
