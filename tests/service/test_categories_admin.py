"""The category tree administered on a real database: a move shifts the levels of everything
under it and keeps every code, deactivation takes the children along and back, each change is
recorded, and the routing catalogue's cache key follows the tree."""

from __future__ import annotations

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from dispatch.core.errors import InvalidInput
from dispatch.core.models import AdminChange, Category
from grid import categories as tree
from grid.catalogue import catalogue_revision


def _levels(session: Session, prefix: str) -> dict[str, tuple[str | None, int, bool]]:
    return {c.code: (c.parent_code, c.level, c.active) for c in session.scalars(
        select(Category).where(Category.code.startswith(prefix)))}


def test_moving_a_branch_to_the_top_shifts_every_level_and_keeps_every_code(session):
    before = _levels(session, "urban.appearance")
    plan = tree.update_category(session, "urban.appearance", {"parent": None}, actor_id=None)
    after = _levels(session, "urban.appearance")
    assert set(after) == set(before)  # no code changed
    assert after["urban.appearance"] == (None, 1, True)
    assert after["urban.appearance.graffiti"] == ("urban.appearance", 2, True)
    assert {c["code"] for c in plan.changes()} == set(before)  # every level moved by one
    assert session.scalar(select(AdminChange.action).where(
        AdminChange.key == "urban.appearance.graffiti")) == "update"


def test_a_dry_run_writes_nothing_and_answers_what_a_save_would_do(session):
    revision = catalogue_revision(session)
    plan = tree.update_category(session, "urban", {"active": False}, actor_id=None,
                                dry_run=True)
    assert len(plan.changes()) == len(_levels(session, "urban"))
    assert all(active for _p, _l, active in _levels(session, "urban").values())
    assert session.scalar(select(AdminChange.id)) is None
    assert catalogue_revision(session) == revision


def test_deactivation_takes_the_children_along_and_reactivation_brings_them_back(session):
    revision = catalogue_revision(session)
    tree.update_category(session, "urban.appearance", {"active": False}, actor_id=None)
    assert not any(active for _p, _l, active in _levels(session, "urban.appearance").values())
    assert catalogue_revision(session) != revision  # the cached catalogue is rebuilt
    with pytest.raises(InvalidInput) as refused:
        tree.create_category(session, {"code": "urban.appearance.more", "name": "更多",
                                       "parent": "urban.appearance"}, actor_id=None)
    assert refused.value.field == "parent"
    tree.update_category(session, "urban.appearance", {"active": True}, actor_id=None)
    assert all(active for _p, _l, active in _levels(session, "urban.appearance").values())


def test_a_move_that_would_make_four_levels_is_refused(session):
    with pytest.raises(InvalidInput) as refused:
        tree.plan_update(session, "urban.appearance", {"parent": "environment.noise"})
    assert refused.value.field == "parent" and "最多 3 级" in refused.value.message
    assert _levels(session, "urban.appearance")["urban.appearance"] == ("urban", 2, True)
