"""Revocable sessions (CONTRACT.md, "Errors, retries and limits"): logout, a password change
and an admin's disabling end every session cookie and bearer token of the user at once, on every
process (the check reads the user's session epoch from the shared database on each request)."""

from __future__ import annotations

from sqlalchemy import select

from tests.conftest import FAST_HASHER
from tests.web.conftest import counts, error_of

ME, LOGIN, TOKEN = "/api/v1/auth/me", "/api/v1/auth/login", "/api/v1/auth/token"


def _session(app, username: str = "operator1"):
    """A client signed in by cookie, and its CSRF token."""
    client = app.test_client()
    r = client.post(LOGIN, json={"username": username, "password": "demo12345"})
    assert r.status_code == 200, r.get_json()
    return client, {"X-CSRFToken": r.get_json()["csrf_token"]}


def _cookie(client) -> str:
    return client.get_cookie("session").value


def _with_cookie(app, value: str):
    client = app.test_client()
    client.set_cookie("session", value)
    return client


def _token(app, username: str = "operator1") -> dict[str, str]:
    r = app.test_client().post(TOKEN, json={"username": username, "password": "demo12345"})
    assert r.status_code == 200, r.get_json()
    return {"Authorization": f"Bearer {r.get_json()['token']}"}


def test_after_logout_the_old_cookie_and_the_users_tokens_are_refused(app):
    client, csrf = _session(app)
    old = _cookie(client)
    other, _ = _session(app)  # the same person on another browser
    token = _token(app)
    assert _with_cookie(app, old).get(ME).status_code == 200
    assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 200
    error_of(_with_cookie(app, old).get(ME), 401, "unauthorized")  # a replayed cookie
    error_of(other.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=token), 401, "unauthorized")
    # Another user is not concerned; the user can sign in again.
    assert _session(app, "dispatcher1")[0].get(ME).status_code == 200
    assert _session(app)[0].get(ME).status_code == 200


def test_the_logout_page_ends_the_cookie_everywhere(app):
    client, _ = _session(app, "dispatcher1")
    old = _cookie(client)
    html = client.get("/console").get_data(as_text=True)
    token = html.split('name="csrf_token" value="')[1].split('"')[0]
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert _with_cookie(app, old).get("/console").status_code == 302  # to the login page
    error_of(_with_cookie(app, old).get(ME), 401, "unauthorized")


def test_a_logout_with_a_bearer_token_ends_the_users_sessions_too(app):
    client, _ = _session(app)
    token = _token(app)
    assert app.test_client().post("/api/v1/auth/logout", headers=token).status_code == 200
    error_of(client.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=token), 401, "unauthorized")


def test_an_anonymous_logout_changes_nothing(app):
    client, _ = _session(app)
    before = counts(app)
    assert app.test_client().post("/api/v1/auth/logout").json == {"signed_out": True}
    assert counts(app) == before
    assert client.get(ME).status_code == 200


def test_a_password_change_ends_the_other_sessions_and_tokens_but_not_its_own(app):
    mine, csrf = _session(app)
    other, _ = _session(app)
    token = _token(app)
    r = mine.post("/api/v1/auth/password", headers=csrf,
                  json={"old_password": "demo12345", "new_password": "another-pass-1"})
    assert r.status_code == 200, r.get_json()
    assert mine.get(ME).status_code == 200
    error_of(other.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=token), 401, "unauthorized")
    r = app.test_client().post(TOKEN, json={"username": "operator1",
                                            "password": "another-pass-1"})
    assert r.status_code == 200


def test_a_refused_password_change_ends_nothing(app):
    mine, csrf = _session(app)
    token = _token(app)
    before = counts(app)
    r = mine.post("/api/v1/auth/password", headers=csrf,
                  json={"old_password": "wrong-one", "new_password": "another-pass-1"})
    error_of(r, 401, "unauthorized")
    assert counts(app) == before
    assert app.test_client().get(ME, headers=token).status_code == 200
    assert mine.get(ME).status_code == 200


def test_a_disabled_user_is_refused_at_once_and_stays_out_when_enabled_again(app, clock):
    from dispatch.core import accounts
    from dispatch.core.models import User
    from web.extensions import db

    client, _ = _session(app, "handler1")
    token = _token(app, "handler1")

    def set_active(active: bool) -> None:
        with app.app_context():
            user = db.session.scalar(select(User).where(User.username == "handler1"))
            accounts.set_active(db.session, user, active, clock.now())
            db.session.commit()

    set_active(False)
    error_of(client.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=token), 401, "unauthorized")
    error_of(app.test_client().post(TOKEN, json={"username": "handler1",
                                                 "password": "demo12345"}), 401,
             "unauthorized")
    set_active(True)  # enabling again does not bring the old credentials back
    error_of(client.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=token), 401, "unauthorized")
    assert _session(app, "handler1")[0].get(ME).status_code == 200


def test_a_cookie_from_before_the_session_epoch_is_refused(app):
    from dispatch.core.models import User
    from web.extensions import db

    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "operator1"))
        user_id, fingerprint = user.id, user.password_hash[-16:]
    client = app.test_client()
    with client.session_transaction() as s:  # signed with the secret, but without an epoch
        s["user_id"], s["pw"] = user_id, fingerprint
    error_of(client.get(ME), 401, "unauthorized")


def test_two_processes_on_one_database_both_refuse_the_old_cookie(app, db_url, tmp_path,
                                                                  clock, publisher):
    from web.app import create_app
    from web.extensions import db
    from web.services import Services

    second = create_app({  # another web process: its own engine, sessions and memory
        "TESTING": True, "SQLALCHEMY_DATABASE_URI": db_url, "SECRET_KEY": "test",
        "INSTANCE_PATH": str(tmp_path / "second"),
        "SERVICES": Services(clock=clock, hasher=FAST_HASHER, publisher=publisher),
    })
    try:
        client, csrf = _session(app)
        old = _cookie(client)
        token = _token(second)
        assert _with_cookie(second, old).get(ME).status_code == 200
        assert _with_cookie(app, old).get(ME).status_code == 200
        assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 200
        for process in (app, second):
            error_of(_with_cookie(process, old).get(ME), 401, "unauthorized")
            error_of(process.test_client().get(ME, headers=token), 401, "unauthorized")
    finally:
        with second.app_context():
            db.session.remove()
            db.engine.dispose()


def test_the_console_socket_refuses_an_old_cookie_and_drops_a_signed_out_viewer(app):
    client, csrf = _session(app, "dispatcher1")
    old = _cookie(client)
    socketio = app.extensions["socketio"]
    live = socketio.test_client(app, namespace="/console", flask_test_client=client)
    other = socketio.test_client(app, namespace="/console",
                                 flask_test_client=_session(app, "supervisor1")[0])
    assert live.is_connected("/console") and other.is_connected("/console")
    assert client.post("/api/v1/auth/logout", headers=csrf).status_code == 200
    for console in (live, other):  # the next ask of a live page
        console.emit("resume", {"after_seq": 0}, namespace="/console")
    assert not live.is_connected("/console")
    assert any(m["name"] == "resumed" for m in other.get_received("/console"))
    again = socketio.test_client(app, namespace="/console",
                                 flask_test_client=_with_cookie(app, old))
    assert not again.is_connected("/console")  # the old cookie opens no console


def test_the_password_page_ends_the_other_sessions_but_keeps_its_own(app):
    mine, _ = _session(app, "leader1")
    other, _ = _session(app, "leader1")
    token = _token(app, "leader1")
    html = mine.get("/password").get_data(as_text=True)
    csrf = html.split('name="csrf_token" value="')[1].split('"')[0]
    r = mine.post("/password", data={"old_password": "demo12345", "new_password": "leader-pass-2",
                                     "confirm_password": "leader-pass-2", "csrf_token": csrf})
    assert r.status_code == 200 and "密码已修改" in r.get_data(as_text=True)
    assert mine.get(ME).status_code == 200
    error_of(other.get(ME), 401, "unauthorized")
    error_of(app.test_client().get(ME, headers=token), 401, "unauthorized")
