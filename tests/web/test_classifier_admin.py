"""HTTP: the learned classifier's versions (admin): train in the background, list with held-out
figures, activate (never a worse one unless forced); /classify with the active model; a model
that cannot be loaded leaves the rules in charge and says so on /healthz and the admin list;
the /admin/classifier page."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from dispatch.triage.rules import load_classifier_rules
from tests.service.test_triage_models import NOT_POLICE, POLICE, seed_model, small_seed
from tests.web.conftest import error_of

MODELS = "/api/v1/admin/classifier/models"
TRAIN = "/api/v1/admin/classifier/train"


@pytest.fixture
def rules(app) -> None:
    from web.extensions import db

    with app.app_context():
        load_classifier_rules(db.session)
        db.session.commit()


def stored(app) -> list[tuple[Any, ...]]:
    """The versions as the database holds them (on a connection of its own)."""
    from web.extensions import db

    with app.app_context(), db.engine.connect() as conn:
        return [tuple(r) for r in conn.execute(text(
            "SELECT version, status, active, activated_at, score FROM classifier_models "
            "ORDER BY version"))]


def insert(app, version: int, artefact: bytes, score: float, active: bool = False) -> None:
    """A ready version, as training leaves it."""
    from dispatch.core.models import ClassifierModel
    from tests.conftest import START
    from web.extensions import db

    with app.app_context():
        db.session.add(ClassifierModel(
            version=version, status="ready", active=active, created_at=START,
            completed_at=START, examples=100, heldout=20, score=score, artefact=artefact,
            size_bytes=len(artefact), figures={"model": {"police": {"recall": 0.98}}}))
        db.session.commit()


def wait_for_training(app, version: int) -> None:
    thread = app.extensions["hotline_training"][version]
    thread.join(120)
    assert not thread.is_alive()


def test_an_admin_trains_lists_and_activates_a_version(app, api, rules,
                                                       tmp_path: Path) -> None:
    app.config["CLASSIFIER_SEED_DIR"] = str(small_seed(tmp_path / "seed"))
    listed = api.get("admin1", MODELS).get_json()
    assert listed == {"items": [], "total": 0, "classifier": "rules", "training": False}
    r = api.post("admin1", TRAIN)
    assert r.status_code == 202, r.get_json()
    started = r.get_json()
    assert (started["version"], started["status"], started["started"]) == (
        "v1", "training", "thread")
    wait_for_training(app, 1)
    item = api.get("admin1", MODELS).get_json()["items"][0]
    assert (item["version"], item["status"], item["active"], item["error"]) == (
        "v1", "ready", False, None)
    assert item["examples"] > 200 and item["heldout"] > 30 and item["size_bytes"] > 0
    figures = item["figures"]
    assert set(figures) >= {"model", "rules", "combined"}
    for field, key in (("police", "recall"), ("police", "precision"),
                       ("police", "false_alarm_rate"), ("critical", "recall"),
                       ("type", "accuracy"), ("top", "accuracy"), ("second", "accuracy")):
        assert 0.0 <= figures["model"][field][key] <= 1.0
    # Not active yet: the rules alone answer.
    assert api.post("operator1", "/api/v1/classify",
                    json={"text": "噪音扰民"}).get_json()["model"] == "rules"
    r = api.post("admin1", f"{MODELS}/v1/activate")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["active"] is True
    body = api.post("operator1", "/api/v1/classify",
                    json={"text": "楼上半夜装修，吵得睡不着"}).get_json()
    assert body["model"] == "v1"
    assert set(body["confidence"]) == {"type", "category", "urgency", "police_matter"}
    assert body["emergency"] is (body["police_matter"] or body["urgency"] == "critical")
    assert api.get("admin1", "/healthz").get_json()["classifier"] == "v1"


@pytest.mark.timeout(900)
def test_classify_with_the_seed_model_flags_the_issue_s_demands(app, api, rules) -> None:
    insert(app, 1, seed_model()[0], 0.9, active=True)
    for demand in POLICE:
        body = api.post("operator1", "/api/v1/classify", json={"text": demand}).get_json()
        assert body["police_matter"] is True and body["emergency"] is True, (demand, body)
        assert body["model"] == "v1"
    for demand in NOT_POLICE:
        body = api.post("operator1", "/api/v1/classify", json={"text": demand}).get_json()
        assert body["police_matter"] is False, (demand, body)


def test_training_without_examples_is_refused_and_writes_nothing(app, api, rules) -> None:
    app.config["CLASSIFIER_SEED_DIR"] = ""  # no seed set, and no confirmed tickets yet
    error = error_of(api.post("admin1", TRAIN), 400, "invalid", "examples")
    assert "训练样本为空" in error["message"]
    assert stored(app) == []


def test_only_admins_see_and_change_versions(app, api, rules) -> None:
    for user in ("operator1", "dispatcher1", "supervisor1", "leader1"):
        assert api.get(user, MODELS).status_code == 403
        assert api.post(user, TRAIN).status_code == 403
        assert api.post(user, f"{MODELS}/v1/activate").status_code == 403
    assert stored(app) == []


@pytest.mark.timeout(900)
def test_activating_a_worse_version_is_refused_unless_forced(app, api, rules) -> None:
    data = seed_model()[0]
    insert(app, 1, data, 0.93, active=True)
    insert(app, 2, data, 0.91)
    before = stored(app)
    error = error_of(api.post("admin1", f"{MODELS}/v2/activate"), 409, "conflict")
    assert "低于" in error["message"] and "v1" in error["message"]
    assert stored(app) == before
    for bad, status, code in (("v9", 404, "not_found"), ("abc", 400, "invalid"),
                              ("v0", 400, "invalid")):
        error_of(api.post("admin1", f"{MODELS}/{bad}/activate"), status, code)
    error_of(api.post("admin1", f"{MODELS}/v2/activate", json={"force": "yes"}), 400,
             "invalid")
    assert stored(app) == before
    changes = {"kind": "changes", "action": "classifier_model"}
    assert api.get("admin1", "/api/v1/admin/audit", query_string=changes).get_json()[
        "total"] == 0  # the refusals recorded nothing
    r = api.post("admin1", f"{MODELS}/v2/activate", json={"force": True})
    assert r.status_code == 200, r.get_json()
    assert [(v, active) for v, _, active, *_ in stored(app)] == [(1, False), (2, True)]
    (change,) = api.get("admin1", "/api/v1/admin/audit", query_string=changes).get_json()[
        "items"]
    assert change["key"] == "v2" and change["action"] == "activate"
    fields = {c["field"]: (c["before"], c["after"]) for c in change["changes"]}
    assert fields["active_version"] == ("v1", "v2") and fields["forced"][1] in ("是", "True")


def test_a_corrupt_model_leaves_the_rules_in_charge_and_says_so(app, api, rules) -> None:
    insert(app, 1, b"PK\x03\x04 not really a model", 0.9, active=True)
    r = api.post("operator1", "/api/v1/classify", json={"text": "小区门口有人持刀抢劫"})
    assert r.status_code == 200
    body = r.get_json()
    assert body["model"] == "rules" and body["police_matter"] is True
    health = api.get("admin1", "/healthz").get_json()
    assert health["status"] == "ok" and health["classifier"] == "rules"
    assert "v1" in health["classifier_error"] and "模型文件" in health["classifier_error"]
    listed = api.get("admin1", MODELS).get_json()
    assert listed["classifier"] == "rules" and "classifier_error" in listed
    # Intake goes on as well.
    ticket = api.create(text="小区门口有人持刀抢劫", type=None, category=None, urgency=None)
    assert ticket["police_matter"] is True


def test_the_admin_page_is_for_admins(app, client) -> None:
    def signed_in(user: str):
        browser = app.test_client()
        r = browser.post("/api/v1/auth/login", json={"username": user, "password": "demo12345"})
        assert r.status_code == 200, r.get_json()
        return browser

    assert client.get("/admin/classifier").status_code == 302  # to the login page
    r = signed_in("admin1").get("/admin/classifier")
    assert r.status_code == 200
    page = r.get_data(as_text=True)
    assert "分类模型" in page and "训练新模型" in page and "classifier-admin.js" in page
    assert signed_in("operator1").get("/admin/classifier").status_code == 403


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_in_distributed_mode_training_goes_to_a_worker_through_the_broker(
        app, api, rules, tmp_path: Path) -> None:
    import base64
    import json
    import os

    import redis

    from tests.conftest import require_service
    from workers.celery_app import make_celery
    from workers.tasks import TRAIN_CLASSIFIER, train_in_app

    url = os.environ.get("HOTLINE_TEST_REDIS_URL")
    if not url:
        require_service("Redis (HOTLINE_TEST_REDIS_URL)")
    task = make_celery(app).tasks[TRAIN_CLASSIFIER]
    assert task.acks_late and task.max_retries == 0
    client = redis.Redis.from_url(url)
    client.delete("celery")
    app.config["REDIS_URL"] = url
    app.config["CLASSIFIER_SEED_DIR"] = str(small_seed(tmp_path / "seed"))
    try:
        r = api.post("admin1", TRAIN)
        assert r.status_code == 202 and r.get_json()["started"] == "queued", r.get_json()
        queued = [json.loads(m) for m in client.lrange("celery", 0, -1)]
        assert [m["headers"]["task"] for m in queued] == [TRAIN_CLASSIFIER]
        assert json.loads(base64.b64decode(queued[0]["body"]))[0] == [1]  # args: version 1
    finally:
        client.delete("celery")
    # What the worker runs; a second delivery of the same message does nothing.
    assert train_in_app(app, 1)["status"] == "ready"
    assert train_in_app(app, 1) == {"version": 1, "skipped": True}
    assert [(v, status) for v, status, *_ in stored(app)] == [(1, "ready")]
