"""The learned triage model: trained on the seed set it beats the rules on police recall and
catches the issue's phrasings; its versions are trained, recorded, activated (never a worse
one unless forced) and loaded once per process; a corrupt artefact leaves the rules in charge;
examples that cannot be trained on are refused with nothing written.

The seed model is trained once per test session (and kept on disk, keyed by the code and the
data, so a second session reuses it): `seed_model()`."""

from __future__ import annotations

import fcntl
import hashlib
import json
import statistics
import tempfile
import time
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

import dispatch.triage.model as model_module
import dispatch.triage.training as training_module
from dispatch.core.errors import Conflict, InvalidInput, NotFound
from dispatch.core.models import ClassifierModel
from dispatch.triage.classifier import (
    POLICE_DOUBT,
    CombinedClassifier,
    ModelCache,
    SessionTriage,
    combiner,
)
from dispatch.triage.model import FORMAT, ArtefactError, Example, TriageModel
from dispatch.triage.rules import (
    ClassifierCache,
    RuleClassifier,
    load_classifier_rules,
    rules_from_file,
)
from dispatch.triage.training import (
    SEED_DIR,
    activate,
    begin_training,
    collect_examples,
    is_held_out,
    read_tsv,
    run_training,
    seed_examples,
    split,
)

ROOT = Path(__file__).resolve().parents[2]
# The issue's demands that came back `police_matter: false` from the rules alone.
POLICE = (
    "有个人站在大桥栏杆外面，说不想活了，你们快来",
    "我手机刚被人抢了，就一分钟前，骑电动车往东跑了",
    "我老婆被她男人打了，满脸是血，还在打",
    "有个男的拿着刀在街上追另一个人",
    "前面那辆车开得歪歪扭扭的，司机肯定喝多了",
    "我闺女十个小时联系不上了，电话一直关机",
    "俺爹有老年痴呆，早上自己走出去到现在没回来",
)
# Words that look like danger and are not.
NOT_POLICE = (
    "我偷偷跟你们说，楼下那家店天天晚上十二点还在装修，吵得睡不着",
    "刀削面馆的油烟直接排到我家窗户上，熏死了",
    "火车站门口的出租车拒载，还乱要价",
    "打车软件上叫的车绕路，多收了二十块钱",
)


# ---------------------------------------------------------------- the seed model, once


def _cache_key() -> str:
    import jieba
    import sklearn

    digest = hashlib.sha256()
    code = Path(model_module.__file__).parent  # model, features, fitting, training
    for path in sorted(SEED_DIR.glob("*.tsv")) + sorted(code.glob("*.py")):
        digest.update(path.read_bytes())
    digest.update(f"{sklearn.__version__} {jieba.__version__} {FORMAT}".encode())
    return digest.hexdigest()[:16]


@cache
def seed_model() -> tuple[bytes, dict[str, Any]]:
    """The model trained on the seed set's training slice (artefact, held-out figures of the
    model, the shipped rules and both together): trained once, then read from disk."""
    folder = Path(tempfile.gettempdir()) / "hotline-triage-test-cache"
    folder.mkdir(exist_ok=True)
    key = _cache_key()
    artefact, figures = folder / f"{key}.npz", folder / f"{key}.json"
    with open(folder / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test workers train it once
        if not (artefact.exists() and figures.exists()):
            rules = RuleClassifier(rules_from_file())
            # (refit=False: the same kind of model in half the time; the refit on every example
            # is tested in tests/unit/test_triage_fitting.py)
            outcome = training_module.train(seed_examples(), combiner(rules), version=1,
                                            refit=False)
            figures.write_text(json.dumps(outcome.figures), encoding="utf-8")
            artefact.write_bytes(outcome.artefact)
    return artefact.read_bytes(), json.loads(figures.read_text(encoding="utf-8"))


@cache
def seed_classifier() -> CombinedClassifier:
    """The shipped rules beside the seed model."""
    return CombinedClassifier(RuleClassifier(rules_from_file()),
                              TriageModel.from_bytes(seed_model()[0]), "v1")


def small_seed(folder: Path, per_file: int = 40) -> Path:
    """A small seed set (the first rows of each shipped file): trains in a second or two."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in sorted(SEED_DIR.glob("*.tsv")):
        lines = path.read_text(encoding="utf-8").splitlines()
        (folder / path.name).write_text("\n".join(lines[:per_file + 1]) + "\n",
                                        encoding="utf-8")
    return folder


# ---------------------------------------------------------------- quality


@pytest.mark.timeout(900)
def test_the_model_beats_the_rules_on_police_recall_on_the_held_out_slice() -> None:
    _, figures = seed_model()
    model, rules, both = figures["model"], figures["rules"], figures["combined"]
    assert model["n"] > 1000
    assert model["police"]["recall"] > rules["police"]["recall"] + 0.3
    assert model["police"]["recall"] >= 0.95
    assert model["police"]["false_alarm_rate"] <= 0.10
    assert both["police"]["recall"] >= model["police"]["recall"]  # the rules only add flags
    assert both["police"]["false_alarm_rate"] <= 0.12
    assert model["critical"]["recall"] >= 0.93
    assert model["type"]["accuracy"] >= 0.85  # the issue's target, also on unseen demands
    assert model["type"]["accuracy"] > rules["type"]["accuracy"]
    assert model["top"]["accuracy"] > rules["top"]["accuracy"]
    assert model["second"]["accuracy"] > 0.6


def test_the_seed_set_gives_one_normalised_text_one_set_of_labels() -> None:
    """A contradiction (路灯不亮 once 投诉, once 举报) teaches the model nothing but noise."""
    from dispatch.triage.features import normalise

    labels: dict[str, set[tuple[str, str, bool, str]]] = {}
    for e in seed_examples():
        labels.setdefault(normalise(e.text), set()).add((e.type, e.category, e.police,
                                                         e.urgency))
    assert len(labels) > 10_000
    assert [t for t, seen in labels.items() if len(seen) > 1] == []


# One situation, four request types (LABELLING.md), none of them a seed demand.
TYPE_PAIRS = (
    ("纬三路那个公交站的顶棚让风掀掉了一半，铁皮耷拉着，下面就是等车的人", "report"),
    ("公交站顶棚坏的事俺打了三回电话了，每回都说登记了，今天下雨又淋了一身，到底管不管",
     "complaint"),
    ("公交站的顶棚坏了是归公交公司修还是归市政修？", "consult"),
    ("谢谢公交公司，站台的顶棚修得真快，昨天报的今天就弄好了", "praise"),
)


@pytest.mark.timeout(900)
@pytest.mark.parametrize(("text", "kind"), TYPE_PAIRS)
def test_one_situation_is_told_apart_by_its_request_type(text: str, kind: str) -> None:
    from dispatch.triage.features import normalise

    assert normalise(text) not in {normalise(e.text) for e in seed_examples()}
    s = seed_classifier().suggest(text)
    assert s.type == kind, s.reasons


@pytest.mark.timeout(900)
@pytest.mark.parametrize("text", POLICE)
def test_the_issue_s_police_matters_are_flagged(text: str) -> None:
    s = seed_classifier().suggest(text)
    assert s.police_matter is True, s.reasons
    assert s.emergency is True and s.urgency in ("urgent", "critical")
    assert s.model == "v1"
    assert 0.0 <= s.confidence["police_matter"] <= 1.0
    assert any(r.startswith("模型：涉警") for r in s.reasons)  # with the words that weighed


@pytest.mark.timeout(900)
@pytest.mark.parametrize("text", NOT_POLICE)
def test_danger_looking_words_do_not_trip_it(text: str) -> None:
    s = seed_classifier().suggest(text)
    assert s.police_matter is False, s.reasons
    assert s.emergency is False and POLICE_DOUBT not in s.doubts


@pytest.mark.timeout(900)
def test_a_suggestion_has_every_field_with_a_confidence_and_the_second_level() -> None:
    s = seed_classifier().suggest("小区楼下的饭店油烟太大了，窗户都不敢开，投诉一下")
    assert s.category is not None and s.category.startswith("environment.")
    assert s.type == "complaint"
    assert set(s.confidence) == {"type", "category", "urgency", "police_matter"}
    assert all(0.0 <= v <= 1.0 for v in s.confidence.values())
    assert s.confidence["category"] > 0.5


@pytest.mark.timeout(900)
def test_the_rules_keep_the_last_word_on_police_matters() -> None:
    model = TriageModel.from_bytes(seed_model()[0])
    rules = RuleClassifier([*rules_from_file(),
                            training_rule("police_matter", "true", "紫色气球", 5.0)])
    text = "图书馆门厅挂了好多紫色气球，想问问哪里买的"
    assert model.predict(text).police.flagged is False
    s = CombinedClassifier(rules, model, "v1").suggest(text)
    assert s.police_matter is True and s.emergency is True
    assert any("规则判定涉警" in r for r in s.reasons)


def training_rule(field: str, value: str, phrase: str, weight: float) -> Any:
    from dispatch.triage.rules import Rule

    return Rule(field, value, phrase, weight)


@pytest.mark.timeout(900)
def test_suggestions_are_fast_in_process() -> None:
    classifier = seed_classifier()
    texts = [t for t in POLICE + NOT_POLICE] * 5
    classifier.suggest(texts[0])  # jieba's dictionary
    times = []
    for text in texts:
        started = time.perf_counter()
        classifier.suggest(text)
        times.append(time.perf_counter() - started)
    assert statistics.median(times) < 0.030


# ---------------------------------------------------------------- the artefact


@pytest.mark.timeout(900)
def test_the_artefact_round_trips_and_predicts_the_same() -> None:
    data = seed_model()[0]
    a, b = TriageModel.from_bytes(data), TriageModel.from_bytes(TriageModel.from_bytes(
        data).to_bytes())
    for text in POLICE + NOT_POLICE:
        pa, pb = a.predict(text), b.predict(text)
        assert pa.police.probability == pytest.approx(pb.police.probability)
        assert (pa.type.value, pa.category) == (pb.type.value, pb.category)
    assert not data.startswith(b"\x80")  # not a pickle: a zip of .npy arrays
    assert data[:2] == b"PK"


@pytest.mark.timeout(900)
@pytest.mark.parametrize("corrupt", ["empty", "garbage", "truncated", "format", "shape"])
def test_a_corrupt_artefact_is_refused_with_a_clear_error(corrupt: str) -> None:
    data = seed_model()[0]
    if corrupt == "empty":
        bad = b""
    elif corrupt == "garbage":
        bad = b"not a model at all" * 10
    elif corrupt == "truncated":
        bad = data[: len(data) // 2]
    else:
        model = TriageModel.from_bytes(data)
        bad = _tampered(model, corrupt)
    with pytest.raises(ArtefactError) as caught:
        TriageModel.from_bytes(bad)
    assert "模型文件" in str(caught.value)


def _tampered(model: TriageModel, what: str) -> bytes:
    import io

    import numpy as np

    with np.load(io.BytesIO(model.to_bytes()), allow_pickle=False) as npz:
        arrays = {k: npz[k] for k in npz.files}
    if what == "format":
        arrays["format"] = np.array([FORMAT + 1], dtype=np.int32)
    else:
        arrays["scale"] = arrays["scale"][:-1]
    out = io.BytesIO()
    np.savez_compressed(out, **arrays)
    return out.getvalue()


# ---------------------------------------------------------------- versions in the database


def add_version(session: Session, number: int, artefact: bytes, score: float, *,
                active: bool = False, status: str = "ready") -> ClassifierModel:
    """A recorded version (as training leaves it)."""
    from tests.conftest import START

    row = ClassifierModel(version=number, status=status, active=active, created_at=START,
                          completed_at=START, examples=10, heldout=2, figures={},
                          score=score, artefact=artefact, size_bytes=len(artefact))
    session.add(row)
    session.commit()
    return row


def versions(session: Session) -> list[tuple[int, str, bool, Any]]:
    session.expire_all()
    return [tuple(r) for r in session.execute(
        select(ClassifierModel.version, ClassifierModel.status, ClassifierModel.active,
               ClassifierModel.activated_at).order_by(ClassifierModel.version))]


@pytest.mark.timeout(900)
def test_activating_a_worse_model_is_refused_and_changes_nothing(session: Session,
                                                                 clock) -> None:
    data = seed_model()[0]
    add_version(session, 1, data, 0.90)
    add_version(session, 2, data, 0.85)
    activate(session, 1, now=clock.now())
    session.commit()
    before = versions(session)
    with pytest.raises(Conflict) as caught:
        activate(session, 2, now=clock.now())
    session.rollback()
    assert "v2" in caught.value.message and "低于" in caught.value.message
    assert versions(session) == before
    # An admin who knows why may force it; then v2 alone is active.
    activate(session, 2, now=clock.now(), force=True)
    session.commit()
    assert [(v, a) for v, _, a, _ in versions(session)] == [(1, False), (2, True)]


@pytest.mark.timeout(900)
def test_only_a_sound_ready_version_can_be_activated(session: Session, clock) -> None:
    add_version(session, 1, seed_model()[0], 0.9, status="training")
    add_version(session, 2, b"garbage", 0.99)
    before = versions(session)
    for number, error in ((1, Conflict), (2, Conflict), (9, NotFound)):
        with pytest.raises(error):
            activate(session, number, now=clock.now())
        session.rollback()
    assert versions(session) == before


@pytest.mark.timeout(900)
def test_a_corrupt_active_model_leaves_the_rules_in_charge(session: Session) -> None:
    load_classifier_rules(session)
    add_version(session, 1, b"PK this is not a model", 0.9, active=True)
    cache = ModelCache()
    port = SessionTriage(session, ClassifierCache(), cache)
    s = port.suggest("小区门口有人持刀抢劫")
    assert s.model == "rules"
    assert s.police_matter is True and s.emergency is True  # the rules still flag it
    status = cache.status(session)
    assert status["classifier"] == "rules" and "v1" in status["classifier_error"]


def test_examples_that_cannot_be_trained_on_are_refused(session: Session, clock) -> None:
    some = seed_examples()[:200]
    cases = {
        "empty": [],
        "one class": [e for e in some if e.police] * 3,
    }
    for name, examples in cases.items():
        with pytest.raises(InvalidInput) as caught:
            begin_training(session, now=clock.now(), trained_by_id=None, examples=examples)
        session.rollback()
        assert caught.value.field == "examples", name
        assert "训练样本" in caught.value.message, name
    assert session.scalar(select(func.count()).select_from(ClassifierModel)) == 0


def test_a_second_training_is_refused_while_one_runs(session: Session, clock) -> None:
    examples = seed_examples()
    row = begin_training(session, now=clock.now(), trained_by_id=None, examples=examples)
    session.commit()
    with pytest.raises(Conflict):
        begin_training(session, now=clock.now(), trained_by_id=None, examples=examples)
    session.rollback()
    assert [v for v, *_ in versions(session)] == [row.version]


def test_training_records_a_ready_version_that_intake_then_uses(session: Session, clock,
                                                                tmp_path: Path) -> None:
    load_classifier_rules(session)
    session.commit()
    seed = small_seed(tmp_path / "seed")
    row = begin_training(session, now=clock.now(), trained_by_id=None,
                         examples=collect_examples(session, seed))
    session.commit()
    rules = ClassifierCache().get(session)
    row = run_training(session, row.version, now=clock.now, combiner=combiner(rules),
                       seed_dir=seed)
    assert row.status == "ready", row.error
    assert row.examples > 200 and row.heldout > 30 and row.size_bytes > 1000
    assert set(row.figures) >= {"model", "rules", "combined", "training"}
    assert 0 < row.score <= 1
    cache = ModelCache()
    port = SessionTriage(session, ClassifierCache(), cache)
    assert port.suggest("噪音").model == "rules"  # trained, not active yet
    session.rollback()
    activate(session, row.version, now=clock.now())
    session.commit()
    assert port.suggest("半夜楼上装修太吵了").model == f"v{row.version}"


def test_a_failed_training_is_recorded_with_its_reason(session: Session, clock,
                                                       tmp_path: Path) -> None:
    row = begin_training(session, now=clock.now(), trained_by_id=None,
                         examples=seed_examples())
    session.commit()
    empty = tmp_path / "empty"
    empty.mkdir()
    row = run_training(session, row.version, now=clock.now, seed_dir=empty)
    assert row.status == "failed" and "训练样本为空" in row.error
    assert row.artefact is None


@pytest.mark.timeout(900)
def test_every_process_follows_an_activation(engine, session: Session, clock) -> None:
    # Two processes: two caches, each with its own session on the one database.
    data = seed_model()[0]
    add_version(session, 1, data, 0.5, active=True)
    add_version(session, 2, data, 0.6)
    first, second = ModelCache(), ModelCache()
    with Session(engine) as other:
        assert first.get(session).version == 1 and second.get(other).version == 1
        other.rollback()
        session.rollback()
        activate(session, 2, now=clock.now())
        session.commit()
        assert second.get(other).version == 2  # a new transaction sees it
        assert first.get(session).version == 2


# ---------------------------------------------------------------- examples


def test_confirmed_tickets_are_examples_with_their_final_values(desk, session: Session
                                                                 ) -> None:
    confirmed = desk.intake(text="楼道里的声控灯坏了一个多月了", type="report",
                            category="housing.property_management", urgency="normal")
    corrected = desk.intake(text="门口的路灯不亮了好几天了", type="complaint",
                            category="housing.property_management", urgency="normal")
    desk.act(corrected, "dispatch", "dispatcher1", lead="urban_management",
             category="urban.municipal_facilities", type="report")
    voided = desk.intake(text="打错了，没事", type="consult", category="other",
                         urgency="normal")
    desk.act(voided, "void", "dispatcher1", reason="误拨")
    # Logged by someone else than an operator and not yet dispatched: nobody confirmed it.
    unconfirmed = desk.intake("dispatcher1", text="网页上留言说小区停车难", type="complaint",
                              category="housing.property_management", urgency="normal")
    examples = {e.text: e for e in collect_examples(session, None)}
    assert examples[confirmed.text].category == "housing.property_management"
    assert examples[corrected.text].category == "urban.municipal_facilities"
    assert examples[corrected.text].type == "report"
    assert voided.text not in examples and unconfirmed.text not in examples
    # With the seed set: one example per normalised text, the ticket's labels last.
    assert len(collect_examples(session)) == len(
        {training_module.normalise(e.text) for e in seed_examples()} | {
            training_module.normalise(confirmed.text), training_module.normalise(
                corrected.text)})


def test_the_held_out_slice_is_a_stable_fifth() -> None:
    examples = seed_examples()
    train, held = split(examples)
    assert 0.17 < len(held) / len(examples) < 0.23
    assert is_held_out("有人拿刀砍人 ") == is_held_out("有人拿刀砍人")
    assert is_held_out("我家住3号楼") == is_held_out("我家住5号楼")  # numbers do not move it
    assert {e.text for e in train}.isdisjoint({e.text for e in held})


def test_a_labelled_file_with_a_bad_row_is_refused_naming_the_line(tmp_path: Path) -> None:
    good = "text\ttype\tcategory\tpolice\turgency\n有人打架\treport\tpublic_security\t1\tcritical\n"
    path = tmp_path / "x.tsv"
    path.write_text(good, encoding="utf-8")
    assert read_tsv(path) == [Example("有人打架", "report", "public_security", True,
                                      "critical")]
    for content, field in (
        ("text\ttype\n有人\treport\n", "file"),
        (good + "停水\treport\tutilities\tmaybe\tnormal\n", "police"),
        (good + "停水\tasking\tutilities\t0\tnormal\n", "type"),
        (good + "停水\treport\tutilities\t0\tsoon\n", "urgency"),
        (good + "\treport\tutilities\t0\tnormal\n", "text"),
    ):
        path.write_text(content, encoding="utf-8")
        with pytest.raises(InvalidInput) as caught:
            read_tsv(path)
        assert caught.value.field == field
        if field != "file":
            assert "第 3 行" in caught.value.message
    path.write_bytes("text\ttype\n".encode("utf-16"))
    with pytest.raises(InvalidInput):
        read_tsv(path)
