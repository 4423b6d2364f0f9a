"""Photo upload and download over HTTP: the body limit lifted for this route alone (also for a
browser session, whose CSRF check parses the form first), refusals in the house error shape
that write nothing, and no photo of another department reachable by its id."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from PIL import Image
from sqlalchemy import text

from tests.web.conftest import TICKETS, dispatched, error_of

LOGIN = "/api/v1/auth/login"


def jpeg(size: tuple[int, int] = (48, 32), noise: bool = False) -> bytes:
    out = io.BytesIO()
    if noise:  # random pixels do not compress: a large file from a small image
        Image.frombytes("RGB", size, os.urandom(size[0] * size[1] * 3)).save(
            out, "JPEG", quality=95)
    else:
        Image.new("RGB", size, "orange").save(out, "JPEG")
    return out.getvalue()


def form(data: bytes, name: str = "photo.jpg", mime: str = "image/jpeg") -> dict:
    return {"file": (io.BytesIO(data), name, mime)}


def upload(api, user: str, number: str, data: bytes, **kw):
    return api.client.post(f"{TICKETS}/{number}/attachments", headers=api.headers(user),
                           data=form(data, **kw), content_type="multipart/form-data")


def fetch(api, user: str, url: str):
    """GET as `user`; the response is read and closed (a file response holds the file)."""
    r = api.get(user, url)
    r.get_data()
    r.close()
    return r


def stored(app) -> tuple[int, list[Path]]:
    """Attachment rows and files on disk."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        rows = conn.execute(text("SELECT count(*) FROM attachments")).scalar_one()
    root = Path(app.instance_path) / "uploads"
    files = sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []
    return rows, files


@pytest.fixture
def nothing_stored(app, unchanged):
    """`with nothing_stored(number, ...):` — no row anywhere (attachments included), no file,
    the tickets as they were."""
    from contextlib import contextmanager

    @contextmanager
    def check(*numbers: str):
        before = stored(app)
        with unchanged(*numbers):
            yield
        assert stored(app) == before

    return check


@pytest.fixture
def worker_ticket(api) -> dict:
    """A ticket dispatched to 蒲东街道 with worker1 as its grid worker."""
    return dispatched(api, lead="street_pudong", grid_worker="worker1")


# ---------------------------------------------------------------- upload and read back


def test_a_grid_worker_uploads_a_photo_and_reads_it_back(app, api, worker_ticket):
    r = upload(api, "worker1", worker_ticket["number"], jpeg((48, 32)), name="现场.jpg")
    assert r.status_code == 201, r.get_json()
    body = r.get_json()
    assert set(body) == {"id", "content_type", "size", "width", "height", "url"}
    assert (body["content_type"], body["width"], body["height"]) == ("image/jpeg", 48, 32)
    assert body["url"] == f"/api/v1/attachments/{body['id']}"
    rows, files = stored(app)
    assert rows == 1 and len(files) == 1 and files[0].stat().st_size == body["size"]

    got = fetch(api, "worker1", body["url"])
    assert got.status_code == 200
    assert got.mimetype == "image/jpeg" and got.data == files[0].read_bytes()
    assert got.headers["Content-Disposition"].startswith("inline")
    assert got.headers["X-Content-Type-Options"] == "nosniff"
    assert "private" in got.headers["Cache-Control"]
    assert "sandbox" in got.headers["Content-Security-Policy"]
    for user in ("dispatcher1", "street1", "leader1"):  # all who see the ticket
        assert fetch(api, user, body["url"]).status_code == 200, user


def test_a_browser_session_uploads_a_photo_over_the_64_kib_body_limit(app, client,
                                                                       worker_ticket):
    r = client.post(LOGIN, json={"username": "worker1", "password": "demo12345"})
    csrf = {"X-CSRFToken": r.get_json()["csrf_token"]}
    big = jpeg((240, 240), noise=True)
    assert len(big) > 64 * 1024
    url = f"{TICKETS}/{worker_ticket['number']}/attachments"
    ok = client.post(url, data=form(big), headers=csrf, content_type="multipart/form-data")
    assert ok.status_code == 201, ok.get_json()
    assert ok.get_json()["size"] > 0


def test_a_browser_session_upload_without_the_csrf_token_is_refused(app, client,
                                                                   worker_ticket,
                                                                   nothing_stored):
    client.post(LOGIN, json={"username": "worker1", "password": "demo12345"})
    url = f"{TICKETS}/{worker_ticket['number']}/attachments"
    with nothing_stored(worker_ticket["number"]):
        for headers in ({}, {"X-CSRFToken": "forged"}):
            error_of(client.post(url, data=form(jpeg()), headers=headers,
                                 content_type="multipart/form-data"), 400, "csrf")


def test_other_json_routes_keep_the_64_kib_limit(api, worker_ticket):
    r = api.post("worker1", f"{TICKETS}/{worker_ticket['number']}/actions/note",
                 json={"version": worker_ticket["version"], "text": "长" * 40_000})
    error_of(r, 413, "too_large")


# ---------------------------------------------------------------- refusals write nothing


def test_a_file_over_the_upload_limit_is_refused_with_the_house_error(app, api, worker_ticket,
                                                                      nothing_stored):
    app.config["UPLOAD_MAX_BYTES"] = 20_000
    number = worker_ticket["number"]
    just_over = jpeg((200, 200), noise=True)[:20_001]
    far_over = os.urandom(200_000)
    with nothing_stored(number):
        error_of(upload(api, "worker1", number, just_over), 400, "invalid", "file")
        error_of(upload(api, "worker1", number, far_over), 413, "too_large")


@pytest.mark.parametrize("data, name, mime", [
    (b"I am text, not a photo", "photo.jpg", "image/jpeg"),
    (b"<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>", "a.jpg",
     "image/svg+xml"),
    (b"GIF89a\x01\x00\x01\x00\x00\x00\x00;", "a.gif", "image/gif"),
    (b"", "empty.jpg", "image/jpeg"),
])
def test_files_that_are_not_jpeg_png_or_webp_are_refused(api, worker_ticket, nothing_stored,
                                                         data, name, mime):
    with nothing_stored(worker_ticket["number"]):
        error_of(upload(api, "worker1", worker_ticket["number"], data, name=name, mime=mime),
                 400, "invalid", "file")


def test_an_upload_must_be_one_file_in_a_multipart_form(api, worker_ticket, nothing_stored):
    url = f"{TICKETS}/{worker_ticket['number']}/attachments"
    headers = api.headers("worker1")
    with nothing_stored(worker_ticket["number"]):
        error_of(api.client.post(url, headers=headers, data={"photo": (io.BytesIO(jpeg()),
                                                                        "a.jpg")},
                                 content_type="multipart/form-data"), 400, "invalid", "file")
        two = {"file": [(io.BytesIO(jpeg()), "a.jpg"), (io.BytesIO(jpeg()), "b.jpg")]}
        error_of(api.client.post(url, headers=headers, data=two,
                                 content_type="multipart/form-data"), 400, "invalid", "file")
        error_of(api.client.post(url, headers=headers, data=jpeg(),
                                 content_type="image/jpeg"), 415, "unsupported_media_type")


def test_no_upload_to_another_departments_ticket_and_the_answer_is_a_missing_ticket(
        api, nothing_stored):
    theirs = dispatched(api, lead="urban_management")
    with nothing_stored(theirs["number"]):
        refused = upload(api, "street1", theirs["number"], jpeg())
        missing = upload(api, "street1", "12345-20261123-999999", jpeg())
        error_of(refused, 404, "not_found")
        error_of(missing, 404, "not_found")
        error_of(upload(api, "worker1", theirs["number"], jpeg()), 404, "not_found")


@pytest.mark.parametrize("user", ["leader1", "supervisor1", "admin1"])
def test_roles_that_do_not_report_cannot_upload(api, worker_ticket, nothing_stored, user):
    with nothing_stored(worker_ticket["number"]):
        error_of(upload(api, user, worker_ticket["number"], jpeg()), 403, "forbidden")


def test_a_photo_of_another_department_reads_as_missing(api, worker_ticket):
    photo = upload(api, "worker1", worker_ticket["number"], jpeg()).get_json()
    refused = api.get("handler1", photo["url"])
    missing = api.get("handler1", f"/api/v1/attachments/{photo['id'] + 1000}")
    a, b = error_of(refused, 404, "not_found"), error_of(missing, 404, "not_found")
    assert a["message"].replace(str(photo["id"]), "N") == \
        b["message"].replace(str(photo["id"] + 1000), "N")
    assert api.client.get(photo["url"]).status_code == 401


def test_a_handler_cannot_open_another_departments_photo_by_changing_the_id(api):
    street = dispatched(api, lead="street_pudong")
    urban = dispatched(api, lead="urban_management")
    api.act("street1", street["number"], "sign", version=street["version"])
    mine = upload(api, "handler1", urban["number"], jpeg()).get_json()
    theirs = upload(api, "street1", street["number"], jpeg((20, 20))).get_json()
    assert fetch(api, "handler1", mine["url"]).status_code == 200
    error_of(api.get("handler1", theirs["url"]), 404, "not_found")
    error_of(api.get("street1", mine["url"]), 404, "not_found")


# ---------------------------------------------------------------- reported by actions


def test_the_worker_completes_with_photos_and_place_and_the_event_shows_them(api,
                                                                             worker_ticket):
    number = worker_ticket["number"]
    signed = api.act("worker1", number, "sign", version=worker_ticket["version"]).get_json()
    ids = [upload(api, "worker1", number, jpeg((30 + i, 30))).get_json()["id"]
           for i in range(2)]
    r = api.act("worker1", number, "complete", version=signed["version"], result="已清理",
                attachments=ids, lon=114.6751, lat=35.2012)
    assert r.status_code == 200, r.get_json()
    view = r.get_json()
    assert view["status"] == "COMPLETED"
    event = view["events"][-1]
    assert event["action"] == "complete" and event["payload"]["attachments"] == ids
    assert event["payload"]["location"] == {"lon": 114.6751, "lat": 35.2012, "crs": "WGS84"}
    # A handler of the lead department sees the ticket and so its photos.
    assert fetch(api, "street1", f"/api/v1/attachments/{ids[0]}").status_code == 200


def test_complete_naming_a_photo_of_another_ticket_is_refused_and_writes_nothing(
        api, worker_ticket, nothing_stored):
    other = dispatched(api, lead="street_pudong", grid_worker="worker1")
    foreign = upload(api, "worker1", other["number"], jpeg()).get_json()["id"]
    number = worker_ticket["number"]
    signed = api.act("worker1", number, "sign", version=worker_ticket["version"]).get_json()
    with nothing_stored(number, other["number"]):
        r = api.act("worker1", number, "complete", version=signed["version"], result="已清理",
                    attachments=[foreign])
        error_of(r, 400, "invalid", "attachments")
        r = api.act("worker1", number, "complete", version=signed["version"], result="已清理",
                    lon=114.67)
        error_of(r, 400, "invalid", "lat")


def test_the_openapi_document_lists_both_routes(client):
    paths = client.get("/api/v1/openapi.json").get_json()["paths"]
    assert "post" in paths["/api/v1/tickets/{number}/attachments"]
    assert "get" in paths["/api/v1/attachments/{attachment_id}"]
    complete = client.get("/api/v1/openapi.json").get_json()["components"]["schemas"][
        "CompleteAction"]["properties"]
    assert {"attachments", "lon", "lat"} <= set(complete)
