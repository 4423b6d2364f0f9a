"""Limits and outages answer 4xx or 503, never 500: integers beyond a database integer in
paths and queries, bodies over the limit whether chunked or not, integral numbers such as
85.0, 405 with `Allow`, and a database or queue outage (503 with `Retry-After`)."""

from __future__ import annotations

import io
import json

import pytest

from tests.web.conftest import TICKETS, error_of

TOO_BIG = 2**31  # one past PostgreSQL's integer
LARGEST = 2**31 - 1
JSON = "application/json"
INTAKE = {"channel": "phone", "text": "小区门口有人占道经营，堵住了出口",
          "citizen": {"name": "张三", "phone": "13800138000"},
          "type": "complaint", "category": "urban", "urgency": "normal"}

# (method, path with {id}, body): every route with an integer id in its path.
ID_ROUTES = [
    ("GET", "/api/v1/attachments/{id}", None),
    ("GET", "/api/v1/kb/articles/{id}", None),
    ("PUT", "/api/v1/kb/articles/{id}", {"title": "标题", "body": "正文"}),
    ("POST", "/api/v1/kb/articles/{id}/retire", {}),
    ("GET", "/api/v1/grid/versions/{id}", None),
    ("POST", "/api/v1/admin/grid/versions/{id}/activate", {}),
    ("PUT", "/api/v1/admin/catalogue/{id}", {}),
    ("DELETE", "/api/v1/admin/catalogue/{id}", None),
    ("PUT", "/api/v1/admin/classifier-rules/{id}", {}),
    ("DELETE", "/api/v1/admin/classifier-rules/{id}", None),
    ("DELETE", "/api/v1/admin/roster/{id}", None),
]


def _send(api, user: str, method: str, url: str, body):
    kw = {"json": body} if body is not None else {}
    return api.client.open(url, method=method, headers=api.headers(user), **kw)


# ---------------------------------------------------------------- integers


@pytest.mark.parametrize("value", [TOO_BIG, 10**30])
def test_ids_beyond_a_database_integer_in_a_path_are_404_and_write_nothing(api, unchanged,
                                                                           value):
    wrong = []
    with unchanged():
        for method, path, body in ID_ROUTES:
            r = _send(api, "admin1", method, path.format(id=value), body)
            if r.status_code != 404 or r.get_json()["error"]["code"] != "not_found":
                wrong.append((method, path, r.status_code))
    assert wrong == []


def test_the_largest_database_integer_in_a_path_is_looked_up_and_not_found(api, unchanged):
    with unchanged():
        answers = [(m, p, _send(api, "admin1", m, p.format(id=LARGEST), b).status_code)
                   for m, p, b in ID_ROUTES]
    # Not found, or refused for its body or role: anything but a server error.
    assert [a for a in answers if a[2] >= 500] == []
    assert {status for _, _, status in answers} <= {400, 403, 404}


@pytest.mark.parametrize(("user", "url", "field"), [
    ("operator1", f"/api/v1/callbacks?offset={TOO_BIG}", "offset"),
    ("dispatcher1", f"/api/v1/grid/cells.geojson?version={TOO_BIG}", "version"),
    ("operator1", f"/api/v1/kb/articles/7?version={TOO_BIG}", "version"),
    ("operator1", "/api/v1/callbacks?offset=" + "9" * 5000, "offset"),
])
def test_integers_beyond_a_database_integer_in_a_query_are_400_naming_the_field(
        api, unchanged, user, url, field):
    with unchanged():
        r = api.get(user, url)
    error_of(r, 400, "invalid", field)


def test_the_largest_offset_is_an_empty_page(api):
    r = api.get("operator1", f"/api/v1/callbacks?offset={LARGEST}")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["items"] == [] and r.get_json()["offset"] == LARGEST


def test_an_action_version_beyond_a_database_integer_is_400_naming_it(api, unchanged):
    ticket = api.create()
    n = ticket["number"]
    with unchanged(n):
        r = api.post("dispatcher1", f"{TICKETS}/{n}/actions/urge", json={"version": TOO_BIG})
    error_of(r, 400, "invalid", "version")


def test_an_integral_number_such_as_85_0_is_taken_as_an_integer(api):
    ticket = api.create()
    n, v = ticket["number"], ticket["version"]
    half = api.post("dispatcher1", f"{TICKETS}/{n}/actions/urge", json={"version": v + 0.5})
    error_of(half, 400, "invalid", "version")
    r = api.post("dispatcher1", f"{TICKETS}/{n}/actions/urge", json={"version": float(v)})
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["version"] == v + 1


# ---------------------------------------------------------------- bodies


def _chunked(api, user: str, url: str, body: bytes, content_type: str = JSON, **kw):
    """A body sent without Content-Length, as a server hands on a chunked request."""
    headers = {**(api.headers(user) if user else {}), "Transfer-Encoding": "chunked",
               "Content-Type": content_type}
    return api.client.post(url, input_stream=io.BytesIO(body), headers=headers,
                           environ_overrides={"wsgi.input_terminated": True}, **kw)


def test_a_chunked_intake_within_the_limit_is_stored(api):
    r = _chunked(api, "operator1", TICKETS, json.dumps(INTAKE).encode())
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("size", [200 * 1024, 1024 * 1024])
def test_a_chunked_intake_over_the_limit_is_413_not_cut_short(api, unchanged, size):
    # Valid JSON, padded: cut at 64 KiB it would still parse and be stored.
    body = json.dumps(INTAKE).encode() + b" " * size
    with unchanged():
        r = _chunked(api, "operator1", TICKETS, body)
    error_of(r, 413, "too_large")


def test_a_chunked_body_of_exactly_the_limit_is_read_whole(api, app):
    body = json.dumps(INTAKE).encode()
    body += b" " * (app.config["MAX_CONTENT_LENGTH"] - len(body))
    r = _chunked(api, "operator1", TICKETS, body)
    assert r.status_code == 201, r.get_json()


def test_a_chunked_110_push_over_the_limit_is_413_not_a_bad_signature(app, api, unchanged):
    import web.hooks.police110  # noqa: F401 - the hooks are registered by the app

    app.config.update(POLICE110_KEYS={"desk-1": "secret"})
    with unchanged():
        r = _chunked(api, None, "/hooks/police110/transfers", b"{" + b" " * (1024 * 1024) + b"}")
    assert r.status_code == 413, r.get_data(as_text=True)


def test_a_chunked_photo_upload_keeps_the_larger_upload_limit(api, app):
    from tests.web.test_attachments_api import jpeg

    t = api.create()
    photo = jpeg((240, 240), noise=True)
    assert len(photo) > app.config["MAX_CONTENT_LENGTH"]
    boundary = "hotlineboundary"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
            f"filename=\"p.jpg\"\r\nContent-Type: image/jpeg\r\n\r\n").encode() + photo + (
        f"\r\n--{boundary}--\r\n").encode()
    r = _chunked(api, "operator1", f"{TICKETS}/{t['number']}/attachments", body,
                 content_type=f"multipart/form-data; boundary={boundary}")
    assert r.status_code != 413, r.get_json()


# ---------------------------------------------------------------- methods


def test_405_names_the_allowed_methods(api, unchanged):
    with unchanged():
        r = api.client.delete(TICKETS, headers=api.headers("operator1"))
    error_of(r, 405, "method_not_allowed")
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "POST"}


# ---------------------------------------------------------------- outages


def _unavailable(r) -> None:
    error_of(r, 503, "unavailable")
    assert int(r.headers["Retry-After"]) > 0


def test_a_database_outage_answers_503_with_retry_after_on_the_api(unreachable_database_app):
    client = unreachable_database_app.test_client()
    for r in (client.get(TICKETS, headers={"Authorization": "Bearer x" * 8}),
              client.post("/api/v1/auth/token",
                          json={"username": "operator1", "password": "demo12345"}),
              client.get("/api/v1/tickets/12345-20261123-000001",
                         headers={"Authorization": "Bearer abc"})):
        _unavailable(r)


def test_a_database_outage_answers_503_on_the_hooks(unreachable_database_app):
    unreachable_database_app.config.update(POLICE110_KEYS={"desk-1": "secret"},
                                           OPEN311_API_KEYS={"k": "test"})
    client = unreachable_database_app.test_client()
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 503 and int(r.headers["Retry-After"]) > 0, r.get_data(as_text=True)
    # A signed 110 transfer: the desk retries on 503 (its nonce was not recorded).
    from integrations.police110.fake import FakePoliceDesk

    desk = FakePoliceDesk({"desk-1": "secret"})
    sent = desk.send_transfer(client, "110-20261207-0001")
    assert sent.status == 503, sent
    assert sent.body["error"]["code"] == "unavailable"


@pytest.mark.parametrize("error", ["redis", "kombu", "pool"])
def test_a_queue_or_pool_outage_inside_a_request_answers_503(app, client, error):
    import redis
    from kombu.exceptions import OperationalError
    from sqlalchemy.exc import TimeoutError as PoolTimeout

    raised = {"redis": redis.ConnectionError("Error 111 connecting"),
              "kombu": OperationalError("Connection refused"),
              "pool": PoolTimeout("QueuePool limit reached")}[error]

    def failing():
        raise raised

    app.add_url_rule("/api/v1/test-outage", "test_outage", failing)
    _unavailable(client.get("/api/v1/test-outage"))


# ---------------------------------------------------------------- heartbeats on /healthz


def _redis_url() -> str:
    import os

    from tests.conftest import require_service

    url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not url:
        require_service("Redis (HOTLINE_TEST_REDIS_URL)")
    return url


def test_healthz_reports_workers_and_beat_from_their_heartbeats(app, client):
    import time

    import redis

    from workers import heartbeats

    url = _redis_url()
    redis.Redis.from_url(url).delete(heartbeats.KEY)
    app.config.update(REDIS_URL=url, SWEEP_INTERVAL=30)
    now = time.time()
    heartbeats.write(url, "worker", "celery@a", now - 5)
    heartbeats.write(url, "worker", "celery@b", now - 300)  # stopped long ago
    heartbeats.write(url, "beat", "host-a", now - 61)  # two sweep intervals and more
    body = client.get("/healthz").get_json()
    assert (body["status"], body["workers"], body["beat"]) == ("ok", "ok", "stale")
    assert set(body["heartbeats"]) == {"worker:celery@a", "worker:celery@b", "beat:host-a"}
    assert body["heartbeats"]["worker:celery@b"] >= 300
    heartbeats.write(url, "beat", "host-a")
    assert client.get("/healthz").get_json()["beat"] == "ok"
    redis.Redis.from_url(url).delete(heartbeats.KEY)
    body = client.get("/healthz")
    assert body.status_code == 200  # no worker is reported, not a failure of this process
    assert (body.get_json()["workers"], body.get_json()["beat"]) == ("none", "none")


def test_a_celery_round_and_a_beat_tick_write_their_heartbeats(app):
    import redis
    from celery import Celery

    from workers import heartbeats
    from workers.celery_app import make_celery

    url = _redis_url()
    redis.Redis.from_url(url).delete(heartbeats.KEY)
    app.config["REDIS_URL"] = url
    celery = make_celery(app)
    celery.conf.task_always_eager = True
    celery.tasks["hotline.sweep_alarms"].apply().get()
    scheduler = heartbeats.HeartbeatScheduler(app=celery, lazy=True)
    assert isinstance(scheduler.app, Celery)
    scheduler.tick()
    kinds = {k.decode().split(":")[0] for k in redis.Redis.from_url(url).hkeys(heartbeats.KEY)}
    assert kinds == {"worker", "beat"}
    assert heartbeats.read(url, 60)["workers"] == "ok"


def test_in_embedded_mode_healthz_reports_the_runner_without_failing(app, client):
    from web.embedded import EmbeddedRunner
    from web.services import services

    app.config["REDIS_URL"] = None
    with app.app_context():
        runner = services().runner = EmbeddedRunner(app, sweep_interval=0.05)
    try:
        assert client.get("/healthz").get_json()["runner"] == "stopped"
        runner.heartbeat = 0.0  # silent since the monotonic clock began: stale
        r = client.get("/healthz")
        assert r.status_code == 200
        assert r.get_json()["runner"] == "stale" and r.get_json()["status"] == "ok"
        runner.start()
        runner.poke()
        import time

        deadline = time.monotonic() + 10
        while client.get("/healthz").get_json()["runner"] != "ok":
            assert time.monotonic() < deadline
            time.sleep(0.05)
    finally:
        runner.stop()
        with app.app_context():
            services().runner = None


def test_a_nul_character_in_a_query_is_400_naming_the_parameter(api, unchanged):
    # Found by the fuzz run: PostgreSQL refused the text and the answer was a 500.
    with unchanged():
        r = api.get("admin1", "/api/v1/admin/classifier-rules?phrase=a%00b")
    error_of(r, 400, "invalid", "phrase")


@pytest.mark.parametrize("value", ["0", "1700000000", "2026-1-5"])
def test_a_day_in_a_query_is_yyyy_mm_dd_and_not_a_unix_time(api, unchanged, value):
    # Found by the fuzz run: `to=0` was read as 1970-01-01.
    with unchanged():
        r = api.get("leader1", f"/api/v1/stats/summary?to={value}")
    error_of(r, 400, "invalid", "to")


# ---------------------------------------------------------------- large admin lists


def test_the_duty_roster_is_listed_a_page_at_a_time(app, api):
    from grid import duties
    from grid.locator import build_index
    from tests.conftest import cell_code, make_test_grid
    from web.extensions import db

    with app.app_context():
        index = build_index(db.session, make_test_grid(db.session))
        cells = [cell_code(s, c, n) for s in (0, 1) for c in (0, 1) for n in (0, 1)]
        made = 0
        for cell in cells:
            try:
                duties.add_roster_entry(db.session, {"cell": cell, "username": "worker1"}, index)
                db.session.commit()
                made += 1
            except Exception:  # noqa: BLE001 - a cell the small test grid does not have
                db.session.rollback()
        db.session.commit()
    assert made >= 3
    first = api.get("dispatcher1", "/api/v1/admin/roster?per_page=2").get_json()
    second = api.get("dispatcher1", "/api/v1/admin/roster?per_page=2&page=2").get_json()
    assert (first["total"], first["page"], first["per_page"]) == (made, 1, 2)
    assert len(first["items"]) == 2 and second["page"] == 2 and second["items"]
    assert not {e["id"] for e in first["items"]} & {e["id"] for e in second["items"]}
    error_of(api.get("dispatcher1", "/api/v1/admin/roster?per_page=501"), 400, "invalid",
             "per_page")
