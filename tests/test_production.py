"""Production that starts: `manage.py check --deploy` with just the variables the README names as required, a
message naming the one that is missing, and no page answering 500 because `collectstatic` was not run.

Each check runs `config.settings.prod` in a fresh process with only these variables (and PATH) in its environment.
"""

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = "https://parley.example.com"


def documented_required() -> list[str]:
    """The variables in the table of README's "Run it in production" that starts `| required |`."""
    section = ROOT.joinpath("README.md").read_text().split("## Run it in production", 1)[1].split("\n## ", 1)[0]
    table = section.split("| required |", 1)[1].split("\n\n", 1)[0]
    return re.findall(r"^\| `([A-Z_]+)` \|", table, flags=re.MULTILINE)


def required_values() -> dict[str, str]:
    return {"SECRET_KEY": secrets.token_urlsafe(50), "PUBLIC_BASE_URL": PUBLIC}


def run(tmp_path, variables: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PARLEY_VAR_DIR": str(tmp_path),  # no DATABASE_URL: an SQLite file there (never opened by check)
        "DJANGO_SETTINGS_MODULE": "config.settings.prod",
        **variables,
    }
    return subprocess.run([sys.executable, *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_the_readme_names_the_required_variables():
    assert documented_required() == list(required_values())


def test_check_deploy_passes_with_just_the_required_variables(tmp_path):
    variables = {name: required_values()[name] for name in documented_required()}
    result = run(tmp_path, variables, "manage.py", "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "PUBLIC_BASE_URL"])
def test_without_a_required_variable_the_message_names_it(tmp_path, missing):
    variables = {name: value for name, value in required_values().items() if name != missing}
    result = run(tmp_path, variables, "manage.py", "check", "--deploy")
    assert result.returncode != 0
    last_line = result.stderr.strip().splitlines()[-1]
    assert f"Set {missing} in the environment" in last_line, result.stderr
    assert [name for name in required_values() if name in last_line] == [missing]


def test_without_any_both_are_named_at_once(tmp_path):
    result = run(tmp_path, {}, "manage.py", "check", "--deploy")
    assert result.returncode != 0
    assert "Set SECRET_KEY and PUBLIC_BASE_URL in the environment" in result.stderr


@pytest.mark.parametrize(
    ("variables", "named", "check_id"),
    [
        ({"PUBLIC_BASE_URL": "http://parley.example.com"}, "PUBLIC_BASE_URL", "parley.E003"),
        ({"SHORT_LINK_BASE_URL": "http://acme.link"}, "SHORT_LINK_BASE_URL", "parley.E002"),
    ],
)
def test_check_deploy_refuses_addresses_that_are_not_https(tmp_path, variables, named, check_id):
    result = run(tmp_path, {**required_values(), **variables}, "manage.py", "check", "--deploy")
    assert result.returncode == 1
    assert f"({check_id}) {named} is" in result.stderr, result.stderr


def test_hosts_come_from_the_public_and_short_link_addresses(tmp_path):
    variables = {**required_values(), "SHORT_LINK_BASE_URL": "https://acme.link"}
    code = "import django; django.setup(); from django.conf import settings; print(settings.ALLOWED_HOSTS)"
    result = run(tmp_path, variables, "-c", code)
    assert result.stdout.strip() == "['parley.example.com', 'acme.link']", result.stderr
    result = run(tmp_path, {**variables, "ALLOWED_HOSTS": "parley.internal"}, "-c", code)
    assert result.stdout.strip() == "['parley.internal']", result.stderr


SERVE = """
from config.wsgi import application  # what gunicorn or uwsgi loads
from django.test import Client

client = Client(HTTP_HOST="parley.example.com")
page = client.get("/admin/login/", secure=True)
print(page.status_code)
print(page["Content-Security-Policy"])
css = next(line for line in page.text.splitlines() if "admin/css/base." in line).split('href="', 1)[1].split('"')[0]
print(css)
print(client.get(css, secure=True).status_code)
print(client.get("/api/docs/", secure=True).status_code)
"""


def test_prod_refuses_to_start_before_collectstatic_then_serves_pages(tmp_path):
    variables = required_values()
    refused = run(tmp_path, variables, "-c", "import config.wsgi")
    assert refused.returncode != 0
    message = refused.stderr.strip().splitlines()[-1]
    assert "static files are not collected" in message and "manage.py collectstatic --noinput" in message, message

    collected = run(tmp_path, variables, "manage.py", "collectstatic", "--noinput")
    assert collected.returncode == 0, collected.stderr

    served = run(tmp_path, variables, "-c", SERVE)
    assert served.returncode == 0, served.stderr
    status, policy, css, css_status, docs_status = served.stdout.strip().splitlines()
    assert status == "200"
    assert "script-src 'self'" in policy
    assert re.fullmatch(r"/static/admin/css/base\.[0-9a-f]{12}\.css", css), css  # the manifest's name
    assert (css_status, docs_status) == ("200", "200")
