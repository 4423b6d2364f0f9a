"""`hotline simulate` as an administrator runs it, on a fresh SQLite database with the demo
county (loaded once and copied per test)."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from dispatch.core.models import Contact, Event, Ticket, User
from dispatch.tickets.attachments import Attachment, stored_path
from web.cli.main import main
from web.cli.simulate import NOT_LOADED

ENV_BASE = {"HOTLINE_SECRET_KEY": "cli-test"}


def run(env: dict[str, str], *args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), env=env, input=input, catch_exceptions=False)


def environment(tmp: Path, db: Path) -> dict[str, str]:
    return {
        **ENV_BASE,
        "HOTLINE_INSTANCE_PATH": str(tmp / "instance"),
        "HOTLINE_DATABASE_URL": f"sqlite:///{db}",
    }


@pytest.fixture(scope="module")
def templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """An upgraded empty database, and one with the demo county loaded."""
    tmp = tmp_path_factory.mktemp("cli-templates")
    empty, county = tmp / "empty.db", tmp / "county.db"
    env = environment(tmp, empty)
    assert run(env, "db", "upgrade").exit_code == 0
    shutil.copyfile(empty, county)
    loaded = run(environment(tmp, county), "demo", "load")
    assert loaded.exit_code == 0, loaded.output
    return {"empty": empty, "county": county}


def copy_of(templates: dict[str, Path], which: str, tmp_path: Path) -> dict[str, str]:
    db = tmp_path / "cli.db"
    shutil.copyfile(templates[which], db)
    return environment(tmp_path, db)


def counts(env: dict[str, str]) -> dict[str, int]:
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        found = {
            m.__tablename__: s.scalar(select(func.count()).select_from(m)) or 0
            for m in (Ticket, Event, Contact, User)
        }
    engine.dispose()
    return found


def number(output: str, label: str) -> int:
    found = re.search(rf"^{label}: ([\d,]+)", output, re.MULTILINE)
    assert found, output
    return int(found.group(1).replace(",", ""))


def test_help_lists_simulate_and_its_options(templates, tmp_path):
    env = copy_of(templates, "empty", tmp_path)
    assert "simulate" in run(env, "--help").output
    helped = run(env, "simulate", "--help")
    assert helped.exit_code == 0
    for option in (
        "--preset",
        "--from",
        "--days",
        "--seed",
        "--scale",
        "--force",
        "--until-now",
        "--if-empty",
        "seed_county",
        "small",
        "recent",
    ):
        assert option in helped.output


def test_simulate_small_preset_makes_a_history_and_prints_its_summary(templates, tmp_path):
    env = copy_of(templates, "county", tmp_path)
    result = run(
        env,
        "simulate",
        "--preset",
        "small",
        "--from",
        "2026-11-16",
        "--days",
        "2",
        "--scale",
        "0.5",
        "--seed",
        "3",
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "simulated 'small' (seed 3, scale 0.5) from 2026-11-16 00:00 to 2026-11-18 00:00" in out
    for line in (
        "tickets by state:",
        "actions:",
        "completion rate (办结率):",
        "callback rate (回访率):",
        "satisfaction rate (满意率):",
        "tickets/s",
    ):
        assert line in out
    made = counts(env)
    assert number(out, "tickets") == made["tickets"] > 0
    assert number(out, "contacts") == made["contacts"] > made["tickets"]
    # One for each department without a handler: bureaus, street offices, communities.
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        added = s.scalar(select(func.count()).select_from(User).where(
            User.username.like("handler\\_%", escape="\\"))) or 0
    engine.dispose()
    assert added > 37 and f"added {added} demo handlers" in out
    # The grid workers' patrol reports carry real photos, kept where the app serves uploads.
    engine = create_engine(env["HOTLINE_DATABASE_URL"])
    with Session(engine) as s:
        patrols = s.scalar(select(func.count()).select_from(Ticket).where(
            Ticket.channel == "patrol")) or 0
        keys = list(s.scalars(select(Attachment.storage_key).join(
            Ticket, Ticket.id == Attachment.ticket_id).where(Ticket.channel == "patrol")))
    engine.dispose()
    uploads = Path(env["HOTLINE_INSTANCE_PATH"]) / "uploads"
    assert patrols > 0 and len(keys) >= patrols
    assert all(stored_path(uploads, k).stat().st_size > 0 for k in keys)
    again = run(
        env,
        "simulate",
        "--preset",
        "small",
        "--from",
        "2026-11-18",
        "--days",
        "1",
        "--scale",
        "0.5",
    )
    assert again.exit_code == 0, again.output
    assert "demo handlers" not in again.output  # added once
    assert counts(env)["tickets"] == made["tickets"] + number(again.output, "tickets")


def test_simulate_refuses_a_database_with_real_users_and_writes_nothing(templates, tmp_path):
    env = copy_of(templates, "county", tmp_path)
    added = run(
        env,
        "users",
        "add",
        "--username",
        "alice",
        "--role",
        "admin",
        input="s3cret-pass\ns3cret-pass\n",
    )
    assert added.exit_code == 0, added.output
    before = counts(env)
    refused = run(env, "simulate", "--preset", "small", "--days", "1")
    assert refused.exit_code != 0
    assert "1 个真实用户" in refused.output and "--force" in refused.output
    assert counts(env) == before
    forced = run(
        env,
        "simulate",
        "--preset",
        "small",
        "--from",
        "2026-11-16",
        "--days",
        "1",
        "--scale",
        "0.3",
        "--force",
    )
    assert forced.exit_code == 0, forced.output
    assert counts(env)["tickets"] == number(forced.output, "tickets") > 0


def test_simulate_without_the_demo_county_says_so_and_writes_nothing(templates, tmp_path):
    env = copy_of(templates, "empty", tmp_path)
    before = counts(env)
    refused = run(env, "simulate", "--preset", "small", "--days", "1")
    assert refused.exit_code != 0
    assert NOT_LOADED in refused.output and "hotline demo load" in refused.output
    assert counts(env) == before


@pytest.mark.parametrize(
    "args, complaint",
    [
        (("--preset", "metropolis"), "metropolis"),
        (("--scale", "0"), "--scale"),
        (("--days", "0"), "--days"),
        (("--from", "23/11/2026"), "--from"),
    ],
)
def test_simulate_refuses_bad_options_and_writes_nothing(templates, tmp_path, args, complaint):
    env = copy_of(templates, "county", tmp_path)
    before = counts(env)
    refused = run(env, "simulate", *args)
    assert refused.exit_code == 2
    assert complaint in refused.output
    assert counts(env) == before
