"""The learned triage model: linear heads over TF-IDF features of a demand's text.

Why this model: a 12345 demand is one to a few sentences of colloquial Chinese, often misspelt
or in dialect. Character 1–3-grams catch misspellings and unknown words; jieba words and
adjacent word pairs ("拿|刀", "不想|活") catch phrases. Linear SVMs over such features are the
classic strong baseline for short-text classification: they train in seconds on 2 cores, need
no GPU and no download at run time, predict in well under a millisecond, and every decision is
a sum of per-feature weights, so the features that weighed most are the reasons shown.

Heads (one weight column per class, all in one matrix):

- ``police`` (binary), ``critical`` (urgency critical, binary), ``urgent`` (urgent or
  critical, binary): Platt-calibrated probabilities; police and critical flag at a threshold
  chosen on out-of-fold predictions so that their recall there is at least 0.97 and 0.96
  (safety first: a miss costs a life, a false alarm a glance), with a doubt band below it;
- ``type`` (6 classes) and ``top`` (top-level category), both with balanced class weights;
  ``second`` (one head over every second-level code; predicted among the children of the
  predicted top level; the top level is chosen by its own score plus its best child's):
  temperature-scaled softmax probabilities.

Training is in `dispatch.triage.fitting` (LinearSVC up to 20,000 examples, SGDClassifier
beyond), the features in `dispatch.triage.features`.

The artefact is not a pickle: an ``.npz`` of plain arrays (vocabulary as UTF-8 text, idf,
int8 weights with a scale per column, intercepts, calibration, thresholds) with a FORMAT
number, read with ``allow_pickle=False``; anything else raises `ArtefactError`.
"""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dispatch.triage.features import display, features, normalise

FORMAT = 1
BINARY_HEADS = ("police", "critical", "urgent")
MULTI_HEADS = ("type", "top", "second")
HEADS = BINARY_HEADS + MULTI_HEADS
REASONS = 3
# A top-level class that holds the police matters of a top level (learned apart, merged again
# at prediction: see fitting.top_labels).
POLICE_PART = "~110"
# Function words and fillers: never shown alone as a reason (they weigh, but say nothing).
QUIET = frozenset("的了是在我你他她它们有个人就都也还和跟与吧呢啊吗呀哦嘛被把"
                  "说要去来到不这那一上下里中么啥咋很太又给让对从为着过地得没能会可以俺咱恁喂")


class ArtefactError(ValueError):
    """A model artefact that cannot be read (corrupt, truncated, or of another format)."""


def base_code(top_class: str) -> str:
    """The category code a top-level class stands for (its police part is the top level)."""
    return top_class.removesuffix(POLICE_PART)


# ---------------------------------------------------------------- examples


@dataclass(frozen=True)
class Example:
    """One labelled demand: text and the final type, category, police flag and urgency."""

    text: str
    type: str
    category: str
    police: bool
    urgency: str

    @property
    def top(self) -> str:
        """The top-level category code."""
        return self.category.split(".")[0]

    @property
    def second(self) -> str | None:
        """The second-level category code, when the label goes that deep."""
        parts = self.category.split(".")
        return ".".join(parts[:2]) if len(parts) >= 2 else None

    def label(self, head: str) -> Any:
        """This example's answer for one head (None: not labelled for it)."""
        if head == "police":
            return self.police
        if head == "critical":
            return self.urgency == "critical"
        if head == "urgent":
            return self.urgency in ("urgent", "critical")
        if head == "type":
            return self.type
        if head == "top":
            return self.top
        return self.second



# ---------------------------------------------------------------- the model


@dataclass(frozen=True)
class Head:
    """One head: its classes, where its weight columns start, and its calibration."""

    name: str
    classes: tuple[str, ...]
    start: int
    intercept: NDArray[np.float32]
    calibration: tuple[float, float]  # binary: Platt (a, b); multi-class: (temperature, 0)
    threshold: float = 0.5
    doubt: float = 0.5

    @property
    def stop(self) -> int:
        """End of this head's columns."""
        return self.start + len(self.classes)


@dataclass(frozen=True)
class Decision:
    """A binary head's judgement of one text."""

    probability: float
    flagged: bool
    doubtful: bool  # below the threshold but inside the doubt band
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Choice:
    """A multi-class head's answer for one text."""

    value: str | None
    probability: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class Prediction:
    """Everything the model says about one text."""

    police: Decision
    critical: Decision
    urgent: Decision
    type: Choice
    top: Choice
    second: Choice

    @property
    def urgency(self) -> str:
        """critical, urgent (also for every police matter) or normal."""
        if self.critical.flagged:
            return "critical"
        if self.urgent.flagged or self.police.flagged:
            return "urgent"
        return "normal"

    @property
    def category(self) -> str | None:
        """The second-level code when the model is fairly sure of it, else the top level."""
        if self.second.value and self.second.probability >= 0.5:
            return self.second.value
        return self.top.value


def _sigmoid(x: NDArray[np.float64] | float) -> Any:
    return 1.0 / (1.0 + np.exp(-np.clip(x, -50, 50)))


def _softmax(scores: NDArray[np.float64], temperature: float) -> NDArray[np.float64]:
    z = scores / max(temperature, 1e-6)
    z = z - z.max(axis=-1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=-1, keepdims=True)


class TriageModel:
    """A trained model: vocabulary, idf, weights and heads; immutable, safe across threads."""

    def __init__(self, vocabulary: Sequence[str], idf: NDArray[np.float32],
                 weights: NDArray[np.int8], scale: NDArray[np.float32], heads: Sequence[Head],
                 meta: dict[str, Any] | None = None) -> None:
        self.vocabulary = tuple(vocabulary)
        self.index = {f: i for i, f in enumerate(self.vocabulary)}
        self.idf = idf.astype(np.float32)
        self.weights = weights  # features × columns, int8; column j is weights[:, j] * scale[j]
        self.scale = scale.astype(np.float32)
        self.heads = {h.name: h for h in heads}
        self.meta = dict(meta or {})
        second = self.heads["second"]
        parents = [c.split(".")[0] for c in second.classes]
        top_classes = self.heads["top"].classes
        self._top_codes = tuple(dict.fromkeys(base_code(t) for t in top_classes))
        self._children = {t: np.array([i for i, p in enumerate(parents) if p == t], dtype=int)
                          for t in self._top_codes}
        # classes × codes: the probabilities of a top level's classes summed into its code
        self._top_merge = np.zeros((len(top_classes), len(self._top_codes)))
        for i, t in enumerate(top_classes):
            self._top_merge[i, self._top_codes.index(base_code(t))] = 1.0

    # ------------------------------------------------------------ vectors

    def _vector(self, text: str) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        return self._vector_of(features(normalise(text)))

    def _vector_of(self, feats: list[str]) -> tuple[NDArray[np.int64], NDArray[np.float32]]:
        counts: dict[int, int] = {}
        for f in feats:
            i = self.index.get(f)
            if i is not None:
                counts[i] = counts.get(i, 0) + 1
        if not counts:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        idx = np.fromiter(counts.keys(), dtype=np.int64, count=len(counts))
        tf = np.fromiter(counts.values(), dtype=np.float32, count=len(counts))
        vals = (1.0 + np.log(tf)) * self.idf[idx]
        norm = float(np.sqrt((vals * vals).sum()))
        return idx, (vals / norm if norm else vals).astype(np.float32)

    def matrix(self, texts: Sequence[str]) -> Any:
        """The TF-IDF rows of many texts (scipy CSR)."""
        from scipy import sparse

        indptr, indices, data = [0], [], []
        for text in texts:
            idx, vals = self._vector(text)
            indices.append(idx)
            data.append(vals)
            indptr.append(indptr[-1] + len(idx))
        return sparse.csr_matrix(
            (np.concatenate(data) if data else np.zeros(0, np.float32),
             np.concatenate(indices) if indices else np.zeros(0, np.int64),
             np.array(indptr)), shape=(len(texts), len(self.vocabulary)), dtype=np.float32)

    def _scores(self, idx: NDArray[np.int64], vals: NDArray[np.float32]) -> NDArray[np.float64]:
        raw = vals @ self.weights[idx].astype(np.float32) if len(idx) else \
            np.zeros(self.weights.shape[1], np.float32)
        return (raw * self.scale).astype(np.float64)

    # ------------------------------------------------------------ prediction

    def predict(self, text: str) -> Prediction:
        """The model's judgement of one text, with the features that weighed most."""
        feats = features(normalise(text))
        idx, vals = self._vector_of(feats)
        scores = self._scores(idx, vals)
        words = frozenset(f[1:] for f in feats if f.startswith("w"))
        return self._predict(scores, idx, vals, words=words)

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        """Judgements of many texts (no reasons: for evaluation)."""
        if not texts:
            return []
        x = self.matrix(texts)
        scores = np.asarray(x @ self.weights.astype(np.float32), dtype=np.float64) * self.scale
        empty = np.zeros(0, np.int64), np.zeros(0, np.float32)
        return [self._predict(scores[i], *empty, explain=False) for i in range(len(texts))]

    def _binary(self, name: str, scores: NDArray[np.float64]) -> tuple[float, Head]:
        head = self.heads[name]
        a, b = head.calibration
        s = float(scores[head.start] + head.intercept[0])
        return float(_sigmoid(a * s + b)), head

    def _decision(self, name: str, scores: NDArray[np.float64], why: Callable[[int], tuple[
            str, ...]]) -> Decision:
        p, head = self._binary(name, scores)
        flagged = p >= head.threshold
        doubtful = not flagged and p >= head.doubt
        reasons = why(head.start) if flagged or doubtful else ()
        return Decision(p, flagged, doubtful, reasons)

    def _predict(self, scores: NDArray[np.float64], idx: NDArray[np.int64],
                 vals: NDArray[np.float32], explain: bool = True,
                 words: frozenset[str] = frozenset()) -> Prediction:
        def why(column: int) -> tuple[str, ...]:
            return self._reasons(column, idx, vals, words) if explain else ()

        police = self._decision("police", scores, why)
        critical = self._decision("critical", scores, why)
        urgent = self._decision("urgent", scores, lambda c: ())
        type_head = self.heads["type"]
        t_scores = scores[type_head.start:type_head.stop] + type_head.intercept
        t_probs = _softmax(t_scores, type_head.calibration[0])
        t = int(t_probs.argmax())
        type_choice = Choice(type_head.classes[t], float(t_probs[t]), why(type_head.start + t))
        top_head, second_head = self.heads["top"], self.heads["second"]
        s_scores = scores[second_head.start:second_head.stop] + second_head.intercept
        c_scores = self._combined_top(scores[top_head.start:top_head.stop]
                                      + top_head.intercept, s_scores)
        c_probs = _softmax(c_scores, top_head.calibration[0])
        merged = c_probs @ self._top_merge
        c = int(merged.argmax())
        top_code = self._top_codes[c]
        column = int(np.where(self._top_merge[:, c] > 0, c_probs, -1.0).argmax())
        top_choice = Choice(top_code, float(merged[c]), why(top_head.start + column))
        children = self._children[top_code]
        if len(children):
            probs = _softmax(s_scores[children], second_head.calibration[0])
            k = int(probs.argmax())
            j = int(children[k])
            second_choice = Choice(second_head.classes[j], float(probs[k]),
                                   why(second_head.start + j))
        else:
            second_choice = Choice(None, 0.0)
        return Prediction(police, critical, urgent, type_choice, top_choice, second_choice)

    def _combined_top(self, top_scores: NDArray[np.float64],
                      second_scores: NDArray[np.float64]) -> NDArray[np.float64]:
        if self.meta.get("second") == "per_parent":  # its scores say nothing across parents
            return top_scores
        return combine_top(top_scores, second_scores,
                           [self._children[base_code(t)] for t in self.heads["top"].classes])

    def _reasons(self, column: int, idx: NDArray[np.int64], vals: NDArray[np.float32],
                 words: frozenset[str] = frozenset()) -> tuple[str, ...]:
        """The features that pushed most towards this column's class, as the operator reads
        them: words, word pairs, and character n-grams that are words of the text or longer
        than a word pair (a fragment across two words says nothing)."""
        if not len(idx):
            return ()
        contrib = vals * self.weights[idx, column].astype(np.float32) * self.scale[column]
        chosen: list[str] = []
        for k in np.argsort(-contrib):
            if contrib[k] <= 0 or len(chosen) >= REASONS:
                break
            feature = self.vocabulary[idx[k]]
            text = display(feature)
            if feature.startswith("c") and text not in words:
                continue
            if not text or all(ch in QUIET or not ch.isalnum() for ch in text) \
                    or any(text in c for c in chosen):
                continue
            chosen = [c for c in chosen if c not in text] + [text]
        return tuple(chosen)

    # ------------------------------------------------------------ artefact

    def to_bytes(self) -> bytes:
        """The artefact: a compressed .npz of plain arrays (no pickle)."""
        heads = [{"name": h.name, "classes": list(h.classes), "start": h.start,
                  "intercept": [float(v) for v in h.intercept],
                  "calibration": list(h.calibration), "threshold": h.threshold,
                  "doubt": h.doubt} for h in self.heads.values()]
        buffer = io.BytesIO()
        np.savez_compressed(
            buffer,
            format=np.array([FORMAT], dtype=np.int32),
            vocabulary=np.frombuffer("\n".join(self.vocabulary).encode("utf-8"), dtype=np.uint8),
            idf=self.idf, weights=self.weights, scale=self.scale,
            heads=np.frombuffer(json.dumps(heads, ensure_ascii=False).encode("utf-8"),
                                dtype=np.uint8),
            meta=np.frombuffer(json.dumps(self.meta, ensure_ascii=False).encode("utf-8"),
                               dtype=np.uint8))
        return buffer.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes | None) -> TriageModel:
        """Read an artefact; `ArtefactError` (in Chinese) when it is not a sound one."""
        if not data:
            raise ArtefactError("模型文件为空")
        try:
            with np.load(io.BytesIO(data), allow_pickle=False) as npz:
                arrays = {k: npz[k] for k in npz.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as exc:
            raise ArtefactError(f"模型文件已损坏，无法读取（{type(exc).__name__}）") from None
        try:
            fmt = int(arrays["format"][0])
            if fmt != FORMAT:
                raise ArtefactError(f"模型文件格式 {fmt} 不受支持（本程序读取格式 {FORMAT}）")
            vocabulary = bytes(arrays["vocabulary"]).decode("utf-8").split("\n")
            heads = [Head(h["name"], tuple(h["classes"]), int(h["start"]),
                          np.array(h["intercept"], dtype=np.float32),
                          (float(h["calibration"][0]), float(h["calibration"][1])),
                          float(h["threshold"]), float(h["doubt"]))
                     for h in json.loads(bytes(arrays["heads"]).decode("utf-8"))]
            meta = json.loads(bytes(arrays["meta"]).decode("utf-8"))
            weights, scale, idf = arrays["weights"], arrays["scale"], arrays["idf"]
        except ArtefactError:
            raise
        except (KeyError, IndexError, TypeError, ValueError, UnicodeDecodeError) as exc:
            raise ArtefactError(f"模型文件内容不完整或已损坏（{type(exc).__name__}）") from None
        names = {h.name for h in heads}
        columns = sum(len(h.classes) for h in heads)
        if (names != set(HEADS) or weights.dtype != np.int8 or weights.ndim != 2
                or weights.shape != (len(vocabulary), columns) or scale.shape != (columns,)
                or idf.shape != (len(vocabulary),)
                or any(h.stop > columns for h in heads)):
            raise ArtefactError("模型文件内容与格式说明不符（缺少预测头或矩阵尺寸不一致）")
        return cls(vocabulary, idf, weights, scale, heads, meta)


def combine_top(top_scores: NDArray[np.float64], second_scores: NDArray[np.float64],
                children: Sequence[NDArray[np.int64]]) -> NDArray[np.float64]:
    """Top-level scores plus the best score of each top level's children (rows or one row)."""
    out = np.array(top_scores, dtype=np.float64, copy=True)
    best = [second_scores[..., ch].max(axis=-1) if len(ch) else None for ch in children]
    known = [b for b in best if b is not None]
    fill = np.min(np.stack(known, axis=-1), axis=-1) if known else 0.0
    for j, b in enumerate(best):
        out[..., j] += b if b is not None else fill
    return out
