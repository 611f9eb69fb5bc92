"""Real pages in Debian's Chromium, driven by Playwright (never a downloaded browser)."""

import os
import time
from pathlib import Path

import pytest

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

# Playwright's sync API runs an event loop in this thread; the ORM calls the
# tests make between page actions are still plain synchronous code.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

# Every page runs under Parley's Content-Security-Policy (config/settings/base.py). Whatever it refuses (an inline
# script, style or event handler, an eval, a request elsewhere, a frame) fails the test that loaded the page: each
# browser context reports the page's `securitypolicyviolation` events and Chromium's "Refused to …" messages here.
CSP_VIOLATIONS: list[str] = []
CSP_LISTENER = """
document.addEventListener("securitypolicyviolation", (event) => {
  console.error(`CSP violation: ${event.effectiveDirective} refused ${event.blockedURI || "?"} `
    + `at ${event.sourceFile || document.location.href}:${event.lineNumber}:${event.columnNumber}`);
});
"""


def is_csp_violation(text: str) -> bool:
    return text.startswith(("CSP violation:", "Refused to")) or "Content Security Policy" in text


def guard_csp(context):
    """Record the CSP violations of every page of a browser context (frames too)."""
    context.add_init_script(script=CSP_LISTENER)
    context.on(
        "console",
        lambda msg: (
            CSP_VIOLATIONS.append(f"{msg.page.url if msg.page else '?'}: {msg.text}")
            if is_csp_violation(msg.text)
            else None
        ),
    )
    return context


@pytest.fixture(autouse=True)
def no_csp_violations():
    CSP_VIOLATIONS.clear()
    yield
    assert not CSP_VIOLATIONS, "Content-Security-Policy violations:\n" + "\n".join(CSP_VIOLATIONS)


def pytest_collection_modifyitems(config, items):
    if CHROMIUM.exists():
        return
    if os.environ.get("CI"):
        raise pytest.UsageError(f"browser tests need {CHROMIUM} (apt-get install -y chromium)")
    skip = pytest.mark.skip(reason=f"{CHROMIUM} is not installed (apt-get install -y chromium)")
    for item in items:
        if "browser" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        new_context = browser.new_context
        browser.new_context = lambda **options: guard_csp(new_context(**options))  # tests' own contexts too
        yield browser
        browser.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(10000)
    yield page
    context.close()


@pytest.fixture
def screenshot(page):
    """Save a screenshot when PARLEY_SCREENSHOTS is set (the README's pictures come from here)."""
    folder = os.environ.get("PARLEY_SCREENSHOTS")

    def take(name: str) -> None:
        if folder:
            Path(folder).mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)

    return take


def log_in_admin(page, live_server, user, password: str = "a-long-test-password") -> None:
    """Sign a staff user in through the admin's login page, as a person would."""
    page.goto(f"{live_server.url}/admin/")
    page.fill("#id_username", user.username)
    page.fill("#id_password", password)
    page.click("input[type=submit]")
    page.wait_for_selector("text=Store administration")


def wait_for_js(page, predicate: str, arg=None, timeout: float = 10.0):
    """page.wait_for_function under the CSP: Playwright's evals its predicate inside the page, which a policy without
    'unsafe-eval' refuses; page.evaluate is not subject to the page's policy, so poll with that."""
    deadline = time.monotonic() + timeout
    while not (result := page.evaluate(predicate, arg)):
        if time.monotonic() > deadline:
            raise AssertionError(f"still false after {timeout} s: {predicate} ({arg!r})")
        page.wait_for_timeout(50)
    return result


def watch(page) -> list[str]:
    """Collect the page's script errors and failed requests; a test ends by asserting there were none.

    (CSP violations fail every browser test without it: see guard_csp.)"""
    problems = []
    page.on("pageerror", lambda error: problems.append(f"script error: {error}"))
    page.on("console", lambda msg: problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None)
    page.on(
        "response",
        lambda response: problems.append(f"{response.status} {response.url}") if response.status >= 400 else None,
    )
    return problems
