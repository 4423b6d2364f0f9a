"""The triage model's feature counting: one process or several, the same vocabulary and counts."""

from __future__ import annotations

import logging
import subprocess

import numpy as np
import pytest
from sklearn.feature_extraction.text import CountVectorizer

from dispatch.triage import features

TEXTS = [
    "有人拿刀在街上追人，快来",
    "楼下烧烤摊油烟太大，熏得开不了窗",
    "我手机刚被抢了，往东跑了",
    "小区门口的路灯坏了一个多月",
    "刀削面馆的油烟直接排到我家窗户上",
    "有人拿刀在超市门口吵架",
    "路灯不亮，晚上走路害怕",
] * 3


def test_counts_match_scikit_learns_count_vectorizer() -> None:
    reference = CountVectorizer(analyzer=features.of_text, min_df=2, dtype=np.float32)
    expected = reference.fit_transform(TEXTS)
    vocabulary, counts = features.count(TEXTS, min_df=2, max_features=10**6)
    assert vocabulary == list(reference.get_feature_names_out())
    assert (counts != expected).nnz == 0


def test_several_processes_count_what_one_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    serial = features.count(TEXTS, min_df=1, max_features=40)
    monkeypatch.setattr(features, "PARALLEL_FROM", 1)
    monkeypatch.setattr(features.os, "cpu_count", lambda: 2)
    assert features.workers_for(len(TEXTS)) == 2
    parallel = features.count(TEXTS, min_df=1, max_features=40)
    assert parallel[0] == serial[0] and len(serial[0]) == 40
    assert (parallel[1] != serial[1]).nnz == 0


def test_a_failing_child_falls_back_to_this_process(monkeypatch: pytest.MonkeyPatch,
                                                    caplog: pytest.LogCaptureFixture) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise subprocess.CalledProcessError(1, "python", stderr=b"MemoryError")

    monkeypatch.setattr(features, "PARALLEL_FROM", 1)
    monkeypatch.setattr(features.os, "cpu_count", lambda: 2)
    monkeypatch.setattr(subprocess, "run", broken)
    with caplog.at_level(logging.WARNING, logger="hotline.triage"):
        vocabulary, counts = features.count(TEXTS, min_df=2, max_features=10**6)
    assert "MemoryError" in caplog.text
    assert counts.shape == (len(TEXTS), len(vocabulary)) and counts.sum() > 0


def test_nothing_to_count_is_refused() -> None:
    with pytest.raises(ValueError):
        features.count(["有人打架"], min_df=2, max_features=10)  # every feature in one text


@pytest.mark.parametrize("processes", [1, 2])
def test_a_subset_counts_as_if_its_texts_alone_were_counted(
        processes: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(features, "PARALLEL_FROM", 1 if processes > 1 else 10**9)
    monkeypatch.setattr(features.os, "cpu_count", lambda: processes)
    counted = features.Counted(TEXTS)
    assert len(counted.chunks) == processes
    rows = [0, 2, 3, 9, 15, 20]
    alone = features.count([TEXTS[i] for i in rows], min_df=2, max_features=10**6)
    sliced = counted.subset(rows).matrix(min_df=2, max_features=10**6)
    assert sliced[0] == alone[0] and (sliced[1] != alone[1]).nnz == 0
    assert counted.subset([]).n == 0
    with pytest.raises(ValueError):
        counted.subset([3, 1])
