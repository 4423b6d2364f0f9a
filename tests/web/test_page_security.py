"""The pages' security: login and logout behind CSRF tokens, no open redirect after login,
roles kept to their pages, security headers and cookie flags, user text escaped in the data
islands the scripts read."""

from __future__ import annotations

import re

import pytest

from tests.web.conftest import counts

PAGES = {"/console": "dispatcher1", "/intake": "operator1", "/worker": "worker1",
         "/department": "handler1"}


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html[:300]
    return found.group(1)


def sign_in(client, username: str, next_url: str = "") -> object:
    token = csrf_of(client.get("/login").get_data(as_text=True))
    return client.post("/login" + (f"?next={next_url}" if next_url else ""),
                       data={"username": username, "password": "demo12345",
                             "csrf_token": token})


def test_the_login_form_without_its_csrf_token_is_refused_and_signs_nobody_in(app, client):
    r = client.post("/login", data={"username": "dispatcher1", "password": "demo12345"})
    assert (r.status_code, r.mimetype) == (400, "text/html")  # a page: the Chinese error page
    assert "请刷新页面后重试" in r.get_data(as_text=True)
    assert client.get("/console").status_code == 302  # still anonymous


def test_a_wrong_password_shows_the_form_again_and_signs_nobody_in(app, client):
    token = csrf_of(client.get("/login").get_data(as_text=True))
    r = client.post("/login", data={"username": "dispatcher1", "password": "nope-nope",
                                    "csrf_token": token})
    assert r.status_code == 200 and "用户名或密码错误" in r.get_data(as_text=True)
    assert client.get("/console").status_code == 302


@pytest.mark.parametrize("target", ["//evil.example/x", "https://evil.example/",
                                    "/\\evil.example", "javascript:alert(1)"])
def test_login_never_redirects_off_the_site(app, client, target):
    r = sign_in(client, "dispatcher1", target)
    assert r.status_code == 302
    assert r.headers["Location"] in ("/console", "http://localhost/console")


def test_login_returns_to_the_page_asked_for_on_this_site(app, client):
    assert client.get("/department").headers["Location"].endswith("/login?next=/department")
    r = sign_in(client, "handler1", "/department")
    assert r.headers["Location"] == "/department"


def test_each_page_opens_for_its_roles_and_shows_others_a_403(app):
    for page, user in PAGES.items():
        own = app.test_client()
        sign_in(own, user)
        assert own.get(page).status_code == 200, page
        for other_page in PAGES:
            if other_page != page and PAGES[other_page] != user:
                r = own.get(other_page)
                assert r.status_code == 403 and "无权访问" in r.get_data(as_text=True)


def test_logout_needs_the_token_and_ends_the_session(app, client):
    sign_in(client, "dispatcher1")
    html = client.get("/console").get_data(as_text=True)
    assert client.post("/logout").status_code == 400  # a forged cross-site logout
    assert client.get("/console").status_code == 200
    assert client.post("/logout", data={"csrf_token": csrf_of(html)}).status_code == 302
    assert client.get("/console").status_code == 302


def test_pages_send_the_security_headers_and_a_strict_policy(app, client):
    sign_in(client, "dispatcher1")
    for url in ("/login", "/console"):
        r = client.get(url)
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "'unsafe-inline'" not in csp.split(
            "script-src")[1].split(";")[0]
        assert "frame-ancestors 'none'" in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert "<script>" not in client.get("/console").get_data(as_text=True).replace(
        '<script type="application/json"', "")  # no inline code, only JSON islands


def test_the_session_cookie_is_http_only_same_site_and_secure_when_configured(app, client):
    r = sign_in(client, "dispatcher1")
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    app.config["SESSION_COOKIE_SECURE"] = True
    secure = app.test_client()
    assert "Secure" in sign_in(secure, "dispatcher1").headers["Set-Cookie"]


def test_user_text_in_the_data_islands_cannot_close_the_script_element(app, client):
    from dispatch.core.models import User
    from web.extensions import db

    with app.app_context():
        user = db.session.query(User).filter_by(username="dispatcher1").one()
        user.display_name = "</script><script>alert(1)</script>"
        db.session.commit()
    sign_in(client, "dispatcher1")
    html = client.get("/console").get_data(as_text=True)
    assert "<script>alert(1)" not in html
    assert "\\u003c/script\\u003e" in html  # in the JSON island, escaped
    assert "&lt;/script&gt;" in html  # in the top bar, as text


def test_the_password_page_changes_the_password_only_with_the_old_one(app, client):
    sign_in(client, "handler1")
    html = client.get("/password").get_data(as_text=True)
    token = csrf_of(html)
    before = counts(app)
    wrong = client.post("/password", data={"csrf_token": token, "old_password": "guess-guess",
                                           "new_password": "new-secret-9",
                                           "confirm_password": "new-secret-9"})
    assert "原密码不正确" in wrong.get_data(as_text=True)
    mismatch = client.post("/password", data={"csrf_token": token,
                                              "old_password": "demo12345",
                                              "new_password": "new-secret-9",
                                              "confirm_password": "new-secret-8"})
    assert "不一致" in mismatch.get_data(as_text=True)
    assert counts(app) == before
    fresh = app.test_client()
    assert sign_in(fresh, "handler1").status_code == 302  # the old password still works
    ok = client.post("/password", data={"csrf_token": token, "old_password": "demo12345",
                                        "new_password": "new-secret-9",
                                        "confirm_password": "new-secret-9"})
    assert "密码已修改" in ok.get_data(as_text=True)
    assert fresh.get("/department").status_code == 302  # other sessions end
