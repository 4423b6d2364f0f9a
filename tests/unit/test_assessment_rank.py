"""The assessment's ranking (dispatch.stats.assessment.rank_departments): bureaus and street
offices numbered apart, highest score first, equal scores sharing a rank, departments below the
volume listed after the ranked ones as "not ranked"."""

from __future__ import annotations

from dispatch.stats.assessment import rank_departments


def row(code: str, group: str, score: float, ranked: bool = True) -> dict:
    return {"department": code, "group": group, "score": score, "ranked": ranked}


def test_groups_rank_apart_ties_share_a_rank_and_the_small_are_listed_last():
    rows = [row("s1", "territorial", 70), row("b1", "functional", 80),
            row("b2", "functional", 90), row("b3", "functional", 80),
            row("b4", "functional", 99, ranked=False), row("b5", "functional", 60)]
    rank_departments(rows)
    assert [(r["department"], r["rank"]) for r in rows] == [
        ("b2", 1), ("b1", 2), ("b3", 2), ("b5", 4), ("b4", "not ranked"), ("s1", 1)]
    assert {r["department"]: r["of"] for r in rows} == {
        "b2": 4, "b1": 4, "b3": 4, "b5": 4, "b4": 4, "s1": 1}
