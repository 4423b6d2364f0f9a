"""The 110 desk's page (/police): police1 lands on it (not on the password page), other roles get
the Chinese 403 page; what it lists and does goes through the API the desk is scoped to — the
transfers both ways and nothing else, 接收 / 退回 / 办结 with the cause, the 首接 history, and a
refused 退回 without a cause that writes nothing."""

from __future__ import annotations

import pytest

from tests.web.conftest import TICKETS, error_of
from tests.web.test_page_security import sign_in


def test_police1_lands_on_the_110_page_with_its_nav_entry(app, client):
    r = sign_in(client, "police1")
    assert r.status_code == 302 and r.headers["Location"].endswith("/police")
    page = client.get("/police")
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'data-testid="police-page"' in html and "110 联动" in html
    assert "js/police.js" in html
    assert client.get("/").headers["Location"].endswith("/police")


@pytest.mark.parametrize("username", ["dispatcher1", "operator1", "handler1"])
def test_other_roles_get_the_chinese_403_page_at_police(app, client, username):
    sign_in(client, username)
    r = client.get("/police")
    assert r.status_code == 403 and "无权" in r.get_data(as_text=True)
    assert "/police" not in client.get("/console" if username == "dispatcher1" else "/login"
                                       ).get_data(as_text=True).split("<main", 1)[0]


def _numbers(r) -> set[str]:
    assert r.status_code == 200, r.get_json()
    return {t["number"] for t in r.get_json()["items"]}


def test_the_desk_lists_transfers_both_ways_and_acts_on_the_outbound_ones(api, unchanged):
    inbound = api.create(channel="police110", text="110 转来：小区门口车辆堵住出口")
    outbound = api.create(text="有人在小区门口持刀威胁路人")
    other = api.create(text="路灯不亮")
    r = api.act("dispatcher1", outbound["number"], "transfer_110", reason="涉警事项")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["police"]["state"] == "pending"

    listed = _numbers(api.get("police1", f"{TICKETS}?per_page=100"))
    assert {inbound["number"], outbound["number"]} <= listed
    assert other["number"] not in listed

    n, version = outbound["number"], r.get_json()["version"]
    # A 退回 without its cause: refused in Chinese naming the field, nothing written.
    with unchanged(n):
        error_of(api.act("police1", n, "police_reject", version=version), 400, "invalid", "reason")

    r = api.act("police1", n, "police_reject", reason="非警情，属民事纠纷")
    assert r.status_code == 200, r.get_json()
    t = r.get_json()
    assert t["status"] == "NEW" and t["police"] == {
        "state": "rejected", "cause": "非警情，属民事纠纷", "incident_no": None}
    # Still the desk's: it stays in its list, with the 首接 history it shows.
    assert n in _numbers(api.get("police1", f"{TICKETS}?per_page=100"))
    seen = api.get("police1", f"{TICKETS}/{n}").get_json()
    history = [(e["action"], (e["payload"] or {}).get("cause")) for e in seen["events"]
               if e["action"].startswith("police") or e["action"] == "transfer_110"]
    assert history == [("transfer_110", None), ("police_reject", "非警情，属民事纠纷")]
    assert "police_accept" not in seen["actions"]

    # The supervisor's arbitration sends it again; the desk accepts then completes it.
    r = api.act("supervisor1", n, "transfer_110", arbitration="持刀威胁，危及人身安全")
    assert r.status_code == 200, r.get_json()
    seen = api.get("police1", f"{TICKETS}/{n}").get_json()
    assert {"police_accept", "police_reject", "police_complete"} <= set(seen["actions"])
    r = api.act("police1", n, "police_accept", incident_no="J410728202612070001")
    assert r.status_code == 200 and r.get_json()["police"]["state"] == "accepted"
    version = r.get_json()["version"]
    with unchanged(n):
        error_of(api.act("police1", n, "police_complete", version=version),
                 400, "invalid", "result")
    r = api.act("police1", n, "police_complete", result="已出警处置，嫌疑人已控制")
    t = r.get_json()
    assert r.status_code == 200 and t["status"] == "ARCHIVED"
    assert t["police"]["state"] == "completed" and t["outcome"] == "handled_by_110"
