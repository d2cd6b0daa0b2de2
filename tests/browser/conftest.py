"""Browser tests: headless Chromium (Debian's package) driving a real web process
that shares this run's Postgres test database and Redis channel layer. Every test
that uses ``server`` runs once under each ASGI server the site supports (uvicorn,
the default, and daphne)."""

import os
from pathlib import Path

import pytest
from django.db import connection

from tests.browser.server import web_server
from tests.services import missing

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking"]


# Per module, not per session: Playwright's loop must be gone before other tests run.
@pytest.fixture(scope="module")
def browser():
    if not CHROMIUM.exists():
        missing(f"Chromium ({CHROMIUM})")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        missing("playwright (pip)")
    # Playwright's sync API keeps an event loop running in this thread while it lives;
    # the ORM calls the tests make between browser steps are ordinary blocking calls.
    with pytest.MonkeyPatch.context() as patch, sync_playwright() as playwright:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture(params=["uvicorn", "daphne"])
def server(request, transactional_db, tmp_path):
    """The web process under each server, on an ephemeral port and this test's database;
    ``server.stop()``/``start()`` restart it; ``server.kind`` says which server it is."""
    web = web_server(server_env(tmp_path), log=tmp_path / "web.log", server=request.param)
    web.start()
    yield web
    web.close()


def server_env(tmp_path: Path) -> dict[str, str]:
    """A web process's environment: the services shape on this test's database, a data folder of its own."""
    settings = connection.settings_dict
    database_url = (
        f"postgres://{settings['USER']}:{settings['PASSWORD']}@{settings['HOST']}:{settings['PORT']}/{settings['NAME']}"
    )
    env = dict(os.environ, DJANGO_SETTINGS_MODULE="v3site.settings", DATABASE_URL=database_url)
    env["V3_DATA_DIR"] = str(tmp_path / "data")
    return env


@pytest.fixture
def page(browser, server):
    yield from open_page(browser, server.url)


def open_page(browser, base_url: str):
    """A fresh browser context on ``base_url``; fails the test on any JavaScript error,
    anything the Content-Security-Policy refused, or any asset or request the server
    answers with an error (a missing icon included)."""
    context = browser.new_context(viewport={"width": 1400, "height": 1000}, base_url=base_url)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda message: "Content Security Policy" in message.text and errors.append(message.text))
    page.on("response", lambda response: response.status >= 400 and errors.append(f"{response.status} {response.url}"))
    page.errors = errors
    yield page
    context.close()
    assert not errors, f"JavaScript or HTTP errors: {errors}"


def log_in(page, username: str, password: str) -> None:
    page.goto("/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("button[type=submit]")
    page.wait_for_selector("#conn[data-conn=online]")
