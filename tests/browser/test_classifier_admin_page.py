"""The /admin/classifier page in a browser: versions with their figures, activation (a worse one
only after confirming), training from the page, and the rules-only state of a broken model."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import expect

from tests.browser.conftest import login, screenshot
from tests.service.test_triage_models import seed_model, small_seed


def add_version(live_server, number: int, artefact: bytes, score: float, figures: dict,
                active: bool = False) -> None:
    from dispatch.core.models import ClassifierModel
    from tests.conftest import START
    from web.extensions import db

    with live_server.app.app_context():
        db.session.add(ClassifierModel(
            version=number, status="ready", active=active, created_at=START,
            completed_at=START, examples=6443, heldout=1617, figures=figures, score=score,
            artefact=artefact, size_bytes=len(artefact), seconds=30.0))
        db.session.commit()


def test_an_admin_sees_versions_activates_and_trains(new_page, live_server, tmp_path: Path):
    artefact, figures = seed_model()
    add_version(live_server, 1, artefact, 0.93, figures, active=True)
    add_version(live_server, 2, artefact, 0.90, figures)
    live_server.app.config["CLASSIFIER_SEED_DIR"] = str(small_seed(tmp_path / "seed"))
    page = new_page(allow_refusals=True)
    login(page, "admin1", then="/admin/classifier")
    page.wait_for_selector("#classifier-admin[data-ready=true]")
    assert page.get_by_test_id("in-use").inner_text() == "规则 + 模型 v1"
    rows = page.get_by_test_id("versions").locator("tbody tr[data-version]")
    assert rows.count() == 2
    assert "启用中" in page.get_by_test_id("version-v1").inner_text()
    compare = page.get_by_test_id("compare").inner_text()
    assert "仅规则" in compare and "规则+模型" in compare and "涉警召回率" in compare
    # v2 scores below v1: refused, then forced after the admin confirms.
    dialogs: list[str] = []

    def confirm(dialog) -> None:
        dialogs.append(dialog.message)
        dialog.accept()

    page.on("dialog", confirm)
    page.get_by_test_id("activate-v2").click()
    expect(page.get_by_test_id("in-use")).to_have_text("规则 + 模型 v2")
    assert dialogs and "低于" in dialogs[0]
    assert "启用中" in page.get_by_test_id("version-v2").inner_text()
    screenshot(page, "classifier-admin")
    # Train from the page: the new version appears, ready, when the training ends.
    page.get_by_test_id("train").click()
    expect(page.get_by_test_id("version-v3")).to_contain_text("可用", timeout=120_000)
    assert page.get_by_test_id("train").is_enabled()


def test_a_broken_model_is_shown_with_the_rules_in_charge(new_page, live_server):
    add_version(live_server, 1, b"PK broken", 0.9, {}, active=True)
    page = new_page()
    login(page, "admin1", then="/admin/classifier")
    page.wait_for_selector("#classifier-admin[data-ready=true]")
    assert page.get_by_test_id("in-use").inner_text().startswith("仅规则")
    error = page.get_by_test_id("load-error")
    assert error.is_visible() and "模型文件" in error.inner_text()
