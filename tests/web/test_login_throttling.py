"""Login throttling (CONTRACT.md, "Errors, retries and limits"): after 5 failures in 15 minutes
for one account or from one address, `/login`, `/api/v1/auth/login` and `/api/v1/auth/token`
answer 429 with Retry-After and sign nobody in, even with the right password; the lock passes
with the window or an admin's unlock; failures and refusals are logged without passwords."""

from __future__ import annotations

import logging
import os
import re
import time

import pytest

from tests.conftest import require_service
from tests.web.conftest import counts, error_of
from web.auth import LoginThrottle

TOKEN, LOGIN = "/api/v1/auth/token", "/api/v1/auth/login"
RIGHT, WRONG = "demo12345", "not-the-password"


def _try(client, url: str, username: str, password: str, address: str = "127.0.0.1"):
    return client.post(url, json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def _retry_after(response) -> int:
    value = response.headers.get("Retry-After", "")
    assert value.isdigit(), response.headers
    return int(value)


def _csrf(client) -> str:
    html = client.get("/login").get_data(as_text=True)
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


@pytest.mark.parametrize("url", [TOKEN, LOGIN])
def test_five_failures_then_the_right_password_gets_429_and_signs_nobody_in(app, client, url):
    statuses = [_try(client, url, "operator1", WRONG).status_code for _ in range(6)]
    assert statuses == [401] * 5 + [429]
    before = counts(app)
    r = _try(client, url, "operator1", RIGHT)
    error = error_of(r, 429, "too_many_attempts")
    assert "登录失败次数过多" in error["message"]
    assert 0 < _retry_after(r) <= 15 * 60
    assert counts(app) == before  # no token row
    assert client.get_cookie("session") is None or \
        client.get("/api/v1/auth/me").status_code == 401
    # Another account from another address is not concerned.
    assert _try(client, url, "dispatcher1", RIGHT, "10.0.0.9").status_code == 200


def test_the_count_is_per_account_across_addresses_and_per_address_across_accounts(app,
                                                                                   client):
    for i in range(5):  # one account, five addresses
        assert _try(client, TOKEN, "operator1", WRONG, f"10.1.0.{i}").status_code == 401
    error_of(_try(client, TOKEN, "operator1", RIGHT, "10.1.0.99"), 429, "too_many_attempts")
    for user in ("dispatcher1", "handler1", "leader1", "worker1", "street1"):
        assert _try(client, TOKEN, user, WRONG, "10.2.0.1").status_code == 401  # one address
    r = _try(client, TOKEN, "supervisor1", RIGHT, "10.2.0.1")
    error_of(r, 429, "too_many_attempts")
    assert _try(client, TOKEN, "supervisor1", RIGHT, "10.2.0.2").status_code == 200


def test_the_login_page_shows_the_lock_on_the_form_with_429(app, client):
    for _ in range(5):
        r = client.post("/login", data={"username": "dispatcher1", "password": WRONG,
                                         "csrf_token": _csrf(client)})
        assert r.status_code == 200 and "用户名或密码错误" in r.get_data(as_text=True)
    r = client.post("/login", data={"username": "dispatcher1", "password": RIGHT,
                                     "csrf_token": _csrf(client)})
    assert r.status_code == 429 and r.mimetype == "text/html"
    assert "登录失败次数过多" in r.get_data(as_text=True)
    assert 0 < _retry_after(r) <= 15 * 60
    assert client.get("/console").status_code == 302  # not signed in
    # The API shares the count: the page's failures lock the token route as well.
    error_of(_try(client, TOKEN, "dispatcher1", RIGHT, "10.3.0.1"), 429, "too_many_attempts")


def test_after_the_window_the_right_password_works_again(app, client):
    app.extensions["hotline_login_throttle"] = LoginThrottle("memory://", 5, 1)
    for _ in range(5):
        assert _try(client, TOKEN, "operator1", WRONG).status_code == 401
    r = _try(client, TOKEN, "operator1", RIGHT)
    assert r.status_code == 429 and _retry_after(r) == 1
    time.sleep(1.2)
    assert _try(client, TOKEN, "operator1", RIGHT).status_code == 200


def test_the_limits_follow_the_configuration(app, client):
    app.extensions["hotline_login_throttle"] = LoginThrottle("memory://", 2, 60)
    statuses = [_try(client, TOKEN, "operator1", WRONG).status_code for _ in range(3)]
    assert statuses == [401, 401, 429]


def test_an_admin_unlocks_a_user_and_nobody_else_can(app, client, api):
    admin, dispatcher = api.headers("admin1"), api.headers("dispatcher1")  # before the lock
    for _ in range(5):
        assert _try(client, TOKEN, "operator1", WRONG).status_code == 401
    before = counts(app)
    for headers in (dispatcher, {}):
        r = client.post("/api/v1/admin/users/operator1/unlock", headers=headers)
        assert r.status_code in (401, 403), r.get_json()
    error_of(_try(client, TOKEN, "operator1", RIGHT), 429, "too_many_attempts")  # still
    assert counts(app) == before
    error_of(client.post("/api/v1/admin/users/nobody9/unlock", headers=admin), 404,
             "not_found")

    r = client.post("/api/v1/admin/users/operator1/unlock", headers=admin)
    assert r.status_code == 200
    assert r.get_json() == {"username": "operator1", "unlocked": True, "was_locked": True}
    # The account and the address it failed from are both free again.
    assert _try(client, TOKEN, "operator1", RIGHT).status_code == 200
    assert client.post("/api/v1/admin/users/operator1/unlock",
                       headers=admin).get_json()["was_locked"] is False


def test_failed_and_throttled_logins_are_logged_without_the_password(app, client, caplog):
    caplog.set_level(logging.INFO, logger="hotline.auth")
    for _ in range(6):
        _try(client, LOGIN, "handler1", "secret-guess-42", "10.4.0.7")
    lines = [r.getMessage() for r in caplog.records if r.name == "hotline.auth"]
    assert sum("login failed" in line for line in lines) == 5
    assert sum("login throttled" in line for line in lines) == 1
    assert all("handler1" in line and "10.4.0.7" in line for line in lines)
    assert not any("secret-guess-42" in line for line in lines)


def test_counts_in_redis_are_shared_by_every_process(app):
    url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not url:
        require_service("Redis (HOTLINE_TEST_REDIS_URL)")
    one, two = LoginThrottle(url, 5, 60), LoginThrottle(url, 5, 60)  # two web processes
    run = time.time_ns()
    name, here, there = f"shared{run}", f"10.5.{run % 250}.1", f"10.5.{run % 250}.2"
    for _ in range(5):
        assert one.retry_after(name, here) is None
        one.failed(name, here)
    assert 0 < two.retry_after(name, there) <= 60  # the account, seen by the other process
    assert two.retry_after("someone.else", here) is not None  # and the address
    assert two.unlock(name) is True
    assert one.retry_after(name, here) is None


def test_with_redis_unreachable_failures_are_still_counted_in_memory(app, caplog):
    throttle = LoginThrottle("redis://127.0.0.1:1/0", 3, 60)  # nothing listens there
    for _ in range(3):
        throttle.failed("operator1", "10.6.0.1")
    assert throttle.retry_after("operator1", "10.6.0.2") is not None
    assert throttle.unlock("operator1") is True
    assert throttle.retry_after("operator1", "10.6.0.1") is None
    assert any("storage unreachable" in r.getMessage() for r in caplog.records)


def _spray(client, forwarded: str) -> list[int]:
    """Five accounts fail from five forwarded addresses; then a sixth signs in from a new one."""
    statuses = [client.post(TOKEN, json={"username": user, "password": WRONG},
                            headers={"X-Forwarded-For": f"10.7.0.{i}"}).status_code
                for i, user in enumerate(("dispatcher1", "handler1", "leader1", "worker1",
                                          "street1"))]
    return statuses + [client.post(TOKEN, json={"username": "operator1", "password": RIGHT},
                                   headers={"X-Forwarded-For": forwarded}).status_code]


def test_x_forwarded_for_counts_only_behind_a_configured_proxy(app, db_url, tmp_path, clock,
                                                              publisher):
    from tests.conftest import FAST_HASHER
    from web.app import create_app
    from web.extensions import db
    from web.services import Services

    assert _spray(app.test_client(), "10.7.0.99") == [401] * 5 + [429]  # a forged header
    proxied = create_app({
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "test",
        "INSTANCE_PATH": str(tmp_path / "proxied"), "PROXY_COUNT": 1,
        "SERVICES": Services(clock=clock, hasher=FAST_HASHER, publisher=publisher),
    })
    try:
        assert _spray(proxied.test_client(), "10.7.0.99") == [401] * 5 + [200]
    finally:
        with proxied.app_context():
            db.session.remove()
            db.engine.dispose()
