"""Helpers for console tests: read the CSRF token from a page, log in."""

from __future__ import annotations

import re

PASSWORD = "burgernet-demo"


def csrf_from(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF field in the page"
    return match.group(1)


def login(client, username: str, password: str = PASSWORD):
    page = client.get("/login").get_data(as_text=True)
    return client.post(
        "/login", data={"username": username, "password": password, "csrf_token": csrf_from(page)}
    )
