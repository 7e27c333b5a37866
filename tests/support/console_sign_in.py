"""Signing in to the agent console in tests, the way its login page asks for it.

The login form carries a one-time token (`login_token`) and every signed-in page a CSRF token
(`csrf-token` meta tag) for the console's posts; tests sign in over HTTP (`login_form`,
`csrf_token`) or in real headless Chromium (`sign_in_in_browser`). One place, so a change to
the login page is followed once.
"""

from __future__ import annotations

import re
from typing import Any

LOGIN_TOKEN = re.compile(r'name="login_token" value="([^"]+)"')
CSRF_TOKEN = re.compile(r'name="csrf-token" content="([^"]+)"')


def login_form(login_page: str, name: str, password: str, landing: str = "/console"
               ) -> dict[str, str]:
    """The fields to post to /login, with the token of the login page just fetched."""
    return {"name": name, "password": password, "login_token": _token(LOGIN_TOKEN, login_page),
            "next": landing}


def csrf_token(console_page: str) -> str:
    """The CSRF token a signed-in console page carries for the console's posts."""
    return _token(CSRF_TOKEN, console_page)


def _token(pattern: re.Pattern[str], page: str) -> str:
    found = pattern.search(page)
    assert found, f"no {pattern.pattern!r} in the page: {page[:500]}"
    return found.group(1)


def page_errors(page: Any) -> list[str]:
    """Script errors and CSP violations the page reports, collected from now on."""
    errors: list[str] = []
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda error: errors.append(str(error)))
    return errors


async def sign_in_in_browser(browser: Any, hub_url: str, name: str, password: str, *,
                             landing: str = "/console", height: int = 900
                             ) -> tuple[Any, Any, list[str]]:
    """A new browser context signed in as `name`: (context, page on `landing`, page errors).

    Opens `landing`, is sent to the login page and back, as a person signing in would be.
    """
    from playwright.async_api import expect

    context = await browser.new_context(viewport={"width": 1440, "height": height})
    page = await context.new_page()
    errors = page_errors(page)
    await page.goto(f"{hub_url}{landing}")
    await expect(page).to_have_url(re.compile(rf"/login\?next={re.escape(landing)}$"))
    await page.get_by_label("Name").fill(name)
    await page.get_by_label("Password").fill(password)
    await page.get_by_role("button", name="Sign in").click()
    await expect(page).to_have_url(f"{hub_url}{landing}")
    return context, page, errors
