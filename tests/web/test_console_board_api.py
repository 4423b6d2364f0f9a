"""The console's board (GET /api/v1/console/board) as issue 18 asked: the live feed starts with
the last events (numbered, each viewer's own), and a co-handler's return is in 退单待改派."""

from __future__ import annotations

BOARD = "/api/v1/console/board"


def _board(api, user: str) -> dict:
    r = api.get(user, BOARD)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_the_board_carries_the_last_events_each_viewer_may_see(api):
    a, b = api.create(), api.create(text="路灯不亮，晚上很黑")
    r = api.act("dispatcher1", a["number"], "transfer_110", version=a["version"],
                reason="涉警事项")
    assert r.status_code == 200, r.get_json()
    r = api.act("dispatcher1", b["number"], "dispatch", version=b["version"],
                lead="urban_management")
    assert r.status_code == 200, r.get_json()

    board = _board(api, "dispatcher1")
    recent = board["recent"]
    assert [(e["ticket"]["number"], e["action"], e["type"]) for e in recent] == [
        (a["number"], "intake", "created"), (b["number"], "intake", "created"),
        (a["number"], "transfer_110", "transfer"), (b["number"], "dispatch", "updated")]
    seqs = [e["seq"] for e in recent]
    assert seqs == sorted(seqs) and seqs[-1] == board["seq"]
    # The department sees only what reached it; the 110 desk only the transfers.
    assert [(e["ticket"]["number"], e["action"]) for e in _board(api, "handler1")["recent"]
            ] == [(b["number"], "dispatch")]
    assert [(e["ticket"]["number"], e["action"]) for e in _board(api, "police1")["recent"]
            ] == [(a["number"], "transfer_110")]


def test_a_co_handlers_return_puts_the_ticket_in_the_returned_queue(api):
    t = api.create()
    r = api.act("dispatcher1", t["number"], "dispatch", version=t["version"],
                lead="urban_management", co_handlers=["street_pudong"])
    assert r.status_code == 200, r.get_json()
    r = api.act("street1", t["number"], "return", version=r.get_json()["version"],
                reason="不属于本街道管辖")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["status"] == "DISPATCHED"  # the lead goes on
    (row,) = [x for x in _board(api, "dispatcher1")["tickets"] if x["number"] == t["number"]]
    assert "returned" in row["queues"]
    # A ticket whose departments all go on is not in that queue.
    other = api.create(text="小区垃圾多日未清运")
    r = api.act("dispatcher1", other["number"], "dispatch", version=other["version"],
                lead="urban_management", co_handlers=["street_pudong"])
    assert r.status_code == 200, r.get_json()
    rows = {x["number"]: x for x in _board(api, "dispatcher1")["tickets"]}
    assert "returned" not in rows[other["number"]]["queues"]
