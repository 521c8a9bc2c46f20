"""Hardening of the web side: settings without secrets, ids out of range, login
throttling, and the login's ``next`` target (in-process, SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable

import httpx
import pytest

from archiver.config import Settings
from archiver.web.app import create_app
from archiver.web.throttle import LoginThrottle
from tests.integration.web.conftest import WebWorld, bearer

SECRETS = {
    "smtp": "hunter2-smtp-password",
    "session": "session-secret-0123456789abcdef0123456789",
    "hook_user": "hookuser",
    "hook_password": "hookpass",
    "hook_token": "tok-9f8e7d6c",
    "hook_path": "T0001/B0002/XXXXslackpathsecret",
    "proxy_user": "alice",
    "proxy_password": "proxypass",
    "tsa_password": "tsapass",
    "tsa_key": "tsa-api-key-77",
}


def _secret_settings(make_settings: Callable[..., Settings], database_url: str) -> Settings:
    s = SECRETS
    return make_settings(
        database_url,
        notify__smtp_password=s["smtp"],
        notify__smtp_user="mailer",
        notify__webhook_url=(
            f"https://{s['hook_user']}:{s['hook_password']}@hooks.example.org/services/"
            f"{s['hook_path']}?token={s['hook_token']}&channel=alerts"
        ),
        web__session_secret=s["session"],
        network__proxy=f"http://{s['proxy_user']}:{s['proxy_password']}@proxy.example:3128",
        integrity__tsa_urls=json.dumps(
            [f"https://stamp:{s['tsa_password']}@tsa.example/tsr?apikey={s['tsa_key']}"]
        ),
    )


async def test_settings_mask_every_secret(
    world: WebWorld, make_settings: Callable[..., Settings], database_url: str
) -> None:
    settings = _secret_settings(make_settings, database_url)
    app = create_app(world.archive, settings)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get("/api/v1/settings", headers=bearer(world.tokens["admin"]))
    assert answer.status_code == 200
    for name, secret in SECRETS.items():
        assert secret not in answer.text, name
    shown = answer.json()
    assert shown["notify"]["smtp_password"] == "(set)"
    assert shown["notify"]["smtp_user"] == "mailer"
    assert shown["web"]["session_secret"] == "(set)"
    hook = shown["notify"]["webhook_url"]
    assert hook.startswith("https://***@hooks.example.org/")
    assert "token=(redacted)" in hook and "channel=(redacted)" in hook
    assert shown["network"]["proxy"] == "http://***@proxy.example:3128"
    assert shown["integrity"]["tsa_urls"] == ["https://***@tsa.example/tsr?apikey=(redacted)"]
    # Unset secrets are shown as unset, not as "(set)".
    plain = make_settings(database_url)
    app = create_app(world.archive, plain)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        answer = await client.get("/api/v1/settings", headers=bearer(world.tokens["admin"]))
    assert answer.json()["notify"]["smtp_password"] == ""
    assert answer.json()["notify"]["webhook_url"] == ""


HUGE = [
    "99999999999999999999999",
    str(2**63),
    str(2**63 - 1),
    str(2**31),
    "-1",
    "0",
    "-99999999999999999999999",
    "9" * 5000,  # beyond what Python reads as an integer
]


@pytest.mark.parametrize("number", HUGE, ids=lambda n: n[:24])
async def test_ids_out_of_range_are_404(
    client: httpx.AsyncClient, world: WebWorld, number: str
) -> None:
    viewer = bearer(world.tokens["viewer"])
    for path in ("/api/v1/sources", "/api/v1/reports"):
        answer = await client.get(f"{path}/{number}", headers=viewer)
        assert answer.status_code == 404, (path, answer.text)
    for path in ("/sources", "/reports"):
        answer = await client.get(f"{path}/{number}", headers={**viewer, "accept": "text/html"})
        assert answer.status_code == 404, (path, answer.text)
    admin = bearer(world.tokens["admin"])
    revoked = await client.delete(f"/api/v1/tokens/{number}", headers=admin)
    assert revoked.status_code == 404, revoked.text
    # Huge page numbers are the last page, not an error (beyond 4,300 digits: 422).
    if len(number) < 100:
        page = await client.get(f"/sources?page={number}", headers=viewer)
        assert page.status_code == 200


class Ticks:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def throttled(world: WebWorld) -> AsyncIterator[tuple[httpx.AsyncClient, Ticks]]:
    ticks = Ticks()
    app = create_app(world.archive, world.archive.settings, login_throttle=LoginThrottle(ticks))
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client, ticks


async def test_wrong_tokens_are_throttled_per_client(
    world: WebWorld, throttled: tuple[httpx.AsyncClient, Ticks]
) -> None:
    client, ticks = throttled
    wrong = bearer("arch_wrong-token")
    codes = [(await client.get("/api/v1/status", headers=wrong)).status_code for _ in range(30)]
    assert 401 in codes and codes[-1] == 429
    refused = await client.get("/api/v1/status", headers=wrong)
    assert refused.status_code == 429
    wait = int(refused.headers["retry-after"])
    assert wait >= 1
    # While the client waits, even a right token is not looked at: no guess is answered.
    right = bearer(world.tokens["viewer"])
    assert (await client.get("/api/v1/status", headers=right)).status_code == 429
    # Another client is not held up.
    other = create_app(world.archive, world.archive.settings)
    transport = httpx.ASGITransport(app=other, client=("203.0.113.9", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c2:
        assert (await c2.get("/api/v1/status", headers=right)).status_code == 200
    # Once the wait is over the right token works; each failure after that waits longer.
    ticks.now += wait
    assert (await client.get("/api/v1/status", headers=right)).status_code == 200
    assert (await client.get("/api/v1/status", headers=wrong)).status_code == 401
    again = await client.get("/api/v1/status", headers=wrong)
    assert again.status_code == 429 and int(again.headers["retry-after"]) > wait


async def test_the_login_form_is_throttled(
    world: WebWorld, throttled: tuple[httpx.AsyncClient, Ticks]
) -> None:
    client, ticks = throttled
    codes = [
        (await client.post("/login", data={"token": "arch_nope", "next": "/"})).status_code
        for _ in range(30)
    ]
    assert codes[0] == 401 and codes[-1] == 429
    held = await client.post("/login", data={"token": world.tokens["viewer"], "next": "/"})
    assert held.status_code == 429 and "retry-after" in held.headers
    assert "Too many" in held.text
    assert "archiver_session" not in held.headers.get("set-cookie", "")
    ticks.now += 3600
    done = await client.post("/login", data={"token": world.tokens["viewer"], "next": "/"})
    assert done.status_code == 303
    # A login session does not present a token: it is never held up.
    assert (await client.get("/")).status_code == 200


async def test_without_an_injected_clock_failures_are_still_throttled(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    codes = [
        (await client.get("/api/v1/status", headers=bearer("arch_x"))).status_code
        for _ in range(50)
    ]
    assert codes[-1] == 429


@pytest.mark.parametrize(
    "target",
    [
        "/" + "a" * 1_000_000,
        "/\t/evil.example/",
        "/\n/evil.example/",
        "/\r\nSet-Cookie: x=1",
        "/%0d%0aX: y",
        "//evil.example",
        "https://evil.example/",
        "/\\evil.example",
        " /x",
        "javascript:alert(1)",
        "",
    ],
)
async def test_login_next_is_a_short_local_path(
    client: httpx.AsyncClient, world: WebWorld, target: str
) -> None:
    done = await client.post("/login", data={"token": world.tokens["viewer"], "next": target})
    assert done.status_code == 303
    assert done.headers["location"] == "/", target[:40]


async def test_login_next_keeps_a_local_path_and_query(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    target = "/reports/1?state=live&platform=facebook"
    done = await client.post("/login", data={"token": world.tokens["viewer"], "next": target})
    assert done.headers["location"] == target


async def test_login_page_does_not_echo_a_huge_next(
    client: httpx.AsyncClient, world: WebWorld
) -> None:
    # (httpx sends at most 64 KiB of query; a form body has no such limit.)
    huge = "/" + "b" * 60_000
    page = await client.get("/login", params={"next": huge})
    assert page.status_code == 200 and len(page.text) < 20_000
    asked = await client.get("/reports/1", params={"state": "c" * 60_000})
    assert asked.status_code == 401 and len(asked.text) < 20_000
