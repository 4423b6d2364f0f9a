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
- ``type`` (6 classes), ``top`` (top-level category, balanced class weights), ``second``
  (one head over every second-level code; predicted among the children of the predicted top
  level; the top level is chosen by its own score plus its best child's): temperature-scaled
  softmax probabilities.

LinearSVC up to 20,000 examples; SGDClassifier (hinge loss) beyond, for speed.

The artefact is not a pickle: an ``.npz`` of plain arrays (vocabulary as UTF-8 text, idf,
int8 weights with a scale per column, intercepts, calibration, thresholds) with a FORMAT
number, read with ``allow_pickle=False``; anything else raises `ArtefactError`.
"""

from __future__ import annotations

import io
import json
import math
import re
import unicodedata
import warnings
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dispatch.triage.segmenter import segmenter

FORMAT = 1
BINARY_HEADS = ("police", "critical", "urgent")
MULTI_HEADS = ("type", "top", "second")
HEADS = BINARY_HEADS + MULTI_HEADS
# Recall each flag must reach on out-of-fold predictions when its threshold is chosen, and the
# recall that sets the lower end of its doubt band.
TARGET_RECALL = {"police": 0.97, "critical": 0.96, "urgent": 0.90}
DOUBT_RECALL = 0.995
MAX_THRESHOLD = 0.5  # a flag never needs more than even odds
SVM_LIMIT = 20_000  # LinearSVC up to this many examples, SGDClassifier beyond
CALIBRATION = 10_000  # beyond SVM_LIMIT: rows scored out of fold for calibration, at most
FOLDS = 3
MIN_DF = 2
MAX_FEATURES = 200_000
MAX_CHARS = 600  # a long complaint's first part says what it is about
REASONS = 3
# Function words and fillers: never shown alone as a reason (they weigh, but say nothing).
QUIET = frozenset("的了是在我你他她它们有个人就都也还和跟与吧呢啊吗呀哦嘛被把"
                  "说要去来到不这那一上下里中么啥咋很太又给让对从为着过地得没能会可以俺咱恁喂")


class ArtefactError(ValueError):
    """A model artefact that cannot be read (corrupt, truncated, or of another format)."""


class TrainingError(ValueError):
    """Examples a model cannot be trained on (message in Chinese, for the admin)."""


# ---------------------------------------------------------------- features


_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"^[\W_]+$")


def normalise(text: str) -> str:
    """Full-width to half-width, lower case, no spaces, every digit 0, start/end marked."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    text = _DIGIT.sub("0", _SPACE.sub("", text))[:MAX_CHARS]
    return f"^{text}$"


def _words(norm: str) -> list[str]:
    # Dictionary words only (no HMM guessing of unknown words: a third faster, and the
    # character n-grams cover what the dictionary does not know).
    return [w for w in segmenter().lcut(norm[1:-1], HMM=False) if not _PUNCT.match(w)]


def features(norm: str) -> list[str]:
    """Character 1–3-grams (``c``), jieba words (``w``) and adjacent word pairs (``p``)."""
    out = [f"c{norm[i:i + n]}" for n in (1, 2, 3) for i in range(len(norm) - n + 1)]
    words = _words(norm)
    out += [f"w{w}" for w in words]
    out += [f"p{a}|{b}" for a, b in zip(words, words[1:], strict=False)]
    return out


def display(feature: str) -> str:
    """What a feature looks like in a reason: the text it stands for."""
    text = feature[1:].replace("|", "") if feature.startswith("p") else feature[1:]
    return text.strip("^$")


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
        self._children = {t: np.array([i for i, p in enumerate(parents) if p == t], dtype=int)
                          for t in self.heads["top"].classes}

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
        c = int(c_probs.argmax())
        top_code = top_head.classes[c]
        top_choice = Choice(top_code, float(c_probs[c]), why(top_head.start + c))
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
        return combine_top(top_scores, second_scores,
                           [self._children[t] for t in self.heads["top"].classes])

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


# ---------------------------------------------------------------- training


@dataclass
class _Fitted:
    classes: list[str]
    coef: NDArray[np.float64]  # classes × features
    intercept: NDArray[np.float64]
    oof: NDArray[np.float64]  # examples × classes (−inf-free; absent classes very low)


@dataclass
class TrainingReport:
    """What `fit` measured while training (out-of-fold)."""

    examples: int
    features: int
    seconds: float = 0.0
    oof: dict[str, Any] = field(default_factory=dict)


def _estimator(n: int, class_weight: str | None, seed: int) -> Any:
    if n <= SVM_LIMIT:
        from sklearn.svm import LinearSVC

        return LinearSVC(C=1.0, class_weight=class_weight, max_iter=3000, random_state=seed)
    from sklearn.linear_model import SGDClassifier

    return SGDClassifier(loss="hinge", alpha=2e-6, max_iter=8 if n <= 50_000 else 5, tol=None,
                         class_weight=class_weight, random_state=seed)


def _fit_one(x: Any, y: NDArray[Any], class_weight: str | None, seed: int, size: int,
             ) -> tuple[list[str], NDArray[np.float64], NDArray[np.float64]]:
    """One linear model; `size` (the whole training set's) chooses the estimator, so that the
    calibration models are of the same kind as the final one."""
    from sklearn.exceptions import ConvergenceWarning

    est = _estimator(size, class_weight, seed)
    with warnings.catch_warnings():
        # A linear SVM that stops a little short of the optimum still separates well; the
        # held-out figures say how well.
        warnings.simplefilter("ignore", ConvergenceWarning)
        est.fit(x, y)
    classes = [str(c) for c in est.classes_]
    coef = np.asarray(est.coef_, dtype=np.float64)
    intercept = np.asarray(est.intercept_, dtype=np.float64)
    if len(classes) == 2 and coef.shape[0] == 1:  # binary: one column for the second class
        coef = np.vstack([-coef, coef])
        intercept = np.array([-intercept[0], intercept[0]])
    return classes, coef, intercept


def _fit_head(x: Any, y: NDArray[Any], class_weight: str | None, folds: NDArray[np.int64],
              seed: int) -> _Fitted:
    """The head fitted on every row, and out-of-fold scores for the rows of folds ≥ 0, each by a
    model of the rows of the other folds and of fold −1 (rows of fold −2 only train the final
    head); with folds 0…k−1 every row is scored once."""
    size = x.shape[0]
    classes, coef, intercept = _fit_one(x, y, class_weight, seed, size)
    oof = np.full((x.shape[0], len(classes)), -10.0)
    position = {c: i for i, c in enumerate(classes)}
    for f in np.unique(folds[folds >= 0]):
        train, test = (folds != f) & (folds >= -1), folds == f
        if len(np.unique(y[train])) < 2:
            continue
        cls, c, b = _fit_one(x[train], y[train], class_weight, seed, size)
        s = x[test] @ c.T + b
        for k, name in enumerate(cls):
            oof[test, position[name]] = s[:, k]
    return _Fitted(classes, coef, intercept, oof)


def _platt(scores: NDArray[np.float64], y: NDArray[np.bool_]) -> tuple[float, float]:
    """Platt scaling: p = sigmoid(a·s + b), fitted by Newton's method on the log-loss."""
    n_pos, n_neg = float(y.sum()), float((~y).sum())
    target = np.where(y, (n_pos + 1) / (n_pos + 2), 1 / (n_neg + 2))  # Platt's smoothed labels
    a, b = 1.0, 0.0
    for _ in range(100):
        p = _sigmoid(a * scores + b)
        g = p - target
        w = np.maximum(p * (1 - p), 1e-9)
        h11, h12, h22 = (w * scores * scores).sum() + 1e-6, (w * scores).sum(), w.sum() + 1e-6
        g1, g2 = (g * scores).sum(), g.sum()
        det = h11 * h22 - h12 * h12
        if det <= 0:
            break
        da, db = (h22 * g1 - h12 * g2) / det, (h11 * g2 - h12 * g1) / det
        a, b = a - da, b - db
        if abs(da) < 1e-9 and abs(db) < 1e-9:
            break
    return float(a), float(b)


def _temperature(scores: NDArray[np.float64], y: NDArray[np.int64]) -> float:
    """The softmax temperature with the least log-loss on out-of-fold scores."""
    best, best_t = math.inf, 1.0
    for t in np.geomspace(0.02, 5.0, 60):
        p = _softmax(scores, float(t))
        loss = -np.log(np.maximum(p[np.arange(len(y)), y], 1e-12)).mean()
        if loss < best:
            best, best_t = float(loss), float(t)
    return best_t


def _threshold(p: NDArray[np.float64], y: NDArray[np.bool_], recall: float) -> float:
    """The highest threshold whose recall on (p, y) is at least `recall`, capped at 0.5."""
    positives = np.sort(p[y])
    if not len(positives):
        return MAX_THRESHOLD
    k = int(math.floor((1.0 - recall) * len(positives)))
    return float(min(positives[min(k, len(positives) - 1)], MAX_THRESHOLD))


def check_examples(examples: Sequence[Example]) -> None:
    """Refuse examples no sound model can be trained on (messages in Chinese)."""
    if not examples:
        raise TrainingError("训练样本为空：没有种子样本，也没有经人工确认的工单")
    police = {e.police for e in examples}
    if len(police) < 2:
        which = "涉警" if police == {True} else "非涉警"
        raise TrainingError(f"训练样本只有一类（全部为{which}）：涉警字段至少需要两类样本")
    for head, name in (("critical", "紧急程度（危急）"), ("urgent", "紧急程度（紧急）"),
                       ("type", "诉求类型"),
                       ("top", "一级分类")):
        if len({e.label(head) for e in examples}) < 2:
            raise TrainingError(f"训练样本只有一类：{name}字段至少需要两类样本")
    if not any(e.second for e in examples):
        raise TrainingError("训练样本没有二级分类：至少需要一条标到二级分类的样本")


def fit(examples: Sequence[Example], *, seed: int = 0, folds: int = FOLDS,
        progress: Callable[[str], None] | None = None) -> tuple[TriageModel, TrainingReport]:
    """Train every head on the examples; thresholds and calibration from out-of-fold scores."""
    import time

    from scipy import sparse
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.preprocessing import normalize

    check_examples(examples)
    started = time.perf_counter()
    say = progress or (lambda _: None)
    say("提取特征")
    min_df = MIN_DF if len(examples) >= 50 else 1
    vectorizer = CountVectorizer(analyzer=_analyse, min_df=min_df, max_features=MAX_FEATURES,
                                 dtype=np.float32)
    try:
        counts = vectorizer.fit_transform(e.text for e in examples)  # one text at a time
    except ValueError:
        raise TrainingError("训练样本的文本没有可用的特征（文本为空或过短）") from None
    vocabulary = [str(v) for v in vectorizer.get_feature_names_out()]
    n = counts.shape[0]
    df = np.bincount(counts.indices, minlength=counts.shape[1])
    idf = (np.log((1.0 + n) / (1.0 + df)) + 1.0).astype(np.float32)
    counts.data = 1.0 + np.log(counts.data)
    x = normalize(counts @ sparse.diags(idf)).astype(np.float32).tocsr()
    rng = np.random.default_rng(seed)
    if n <= SVM_LIMIT:  # k-fold: every example scored out of fold
        fold_of = rng.permutation(n) % folds
    else:
        # Large sets: a calibration slice (a fifth, at most CALIBRATION rows) scored by a model
        # of at most SVM_LIMIT other rows; rows in neither (fold −2) only train the final model.
        order = rng.permutation(n)
        fold_of = np.full(n, -2)
        fold_of[order[:min(n // 5, CALIBRATION)]] = 0
        rest = order[min(n // 5, CALIBRATION):]
        fold_of[rest[:SVM_LIMIT]] = -1
    scored = fold_of >= 0
    fitted: dict[str, _Fitted] = {}
    rows: dict[str, NDArray[np.int64]] = {}
    for head in HEADS:
        say(f"训练 {head}")
        labels = [e.label(head) for e in examples]
        keep = np.array([v is not None for v in labels])
        y = np.array([str(v) for v, kept in zip(labels, keep, strict=True) if kept])
        rows[head] = np.flatnonzero(keep)
        weight = "balanced" if head == "top" else None
        fitted[head] = _fit_head(x[keep], y, weight, fold_of[keep], seed)
    report = TrainingReport(n, len(vocabulary))
    heads: list[Head] = []
    columns: list[NDArray[np.float64]] = []
    start = 0
    for head in BINARY_HEADS:
        f = fitted[head]
        positive = f.classes.index("True")
        sel = scored[rows[head]]
        scores = f.oof[sel, positive]
        y = np.array([bool(e.label(head)) for e in examples])[rows[head]][sel]
        a, b = _platt(scores, y)
        p = _sigmoid(a * scores + b)
        threshold = _threshold(p, y, TARGET_RECALL[head])
        doubt = min(_threshold(p, y, DOUBT_RECALL), threshold)
        flagged = p >= threshold
        report.oof[head] = {"recall": _ratio((flagged & y).sum(), y.sum()),
                            "false_alarm_rate": _ratio((flagged & ~y).sum(), (~y).sum()),
                            "threshold": threshold, "doubt": doubt}
        heads.append(Head(head, ("True",), start, np.array([f.intercept[positive]], np.float32),
                          (a, b), threshold, doubt))
        columns.append(f.coef[positive:positive + 1])
        start += 1
    top, second = fitted["top"], fitted["second"]
    parents = [c.split(".")[0] for c in second.classes]
    children = [np.array([i for i, p in enumerate(parents) if p == t], dtype=int)
                for t in top.classes]
    # The second head's out-of-fold scores for every example (rows without a second-level
    # label get theirs from the full model: only the top-level combination uses them).
    second_all = np.asarray(x @ second.coef.T, dtype=np.float64) + second.intercept
    second_all[rows["second"]] = second.oof
    for head in MULTI_HEADS:
        f = fitted[head]
        y_names = [str(e.label(head)) for e in examples]
        sel = scored[rows[head]]
        y_idx = np.array([f.classes.index(y_names[i]) for i in rows[head][sel]])
        scores = f.oof[sel]
        if head == "top":
            scores = combine_top(scores, second_all[rows[head][sel]], children)
            temperature = _temperature(scores, y_idx)
        elif head == "second":
            temperature = _conditional_temperature(scores, y_idx, parents)
        else:
            temperature = _temperature(scores, y_idx)
        report.oof[head] = {"accuracy": float((scores.argmax(1) == y_idx).mean())}
        heads.append(Head(head, tuple(f.classes), start, f.intercept.astype(np.float32),
                          (temperature, 0.0)))
        columns.append(f.coef)
        start += len(f.classes)
    weights, scale = _quantise(np.vstack(columns).T)
    report.seconds = time.perf_counter() - started
    meta = {"examples": n, "features": len(vocabulary), "seed": seed,
            "estimator": "LinearSVC" if n <= SVM_LIMIT else "SGDClassifier"}
    return TriageModel(vocabulary, idf, weights, scale, heads, meta), report


def _conditional_temperature(oof: NDArray[np.float64], y: NDArray[np.int64],
                             parents: Sequence[str]) -> float:
    """The temperature for second-level probabilities among the true top level's children."""
    parent_of = np.array(parents)
    label_parent = parent_of[y]
    groups = []
    for p in np.unique(label_parent):
        children = np.flatnonzero(parent_of == p)
        rows = np.flatnonzero(label_parent == p)
        position = np.searchsorted(children, y[rows])
        groups.append((oof[np.ix_(rows, children)], position))
    best, best_t = math.inf, 1.0
    for t in np.geomspace(0.02, 5.0, 60):
        loss = 0.0
        for scores, position in groups:
            probs = _softmax(scores, float(t))
            loss -= float(np.log(np.maximum(probs[np.arange(len(position)), position],
                                            1e-12)).sum())
        if loss < best:
            best, best_t = loss, float(t)
    return best_t


def _quantise(w: NDArray[np.float64]) -> tuple[NDArray[np.int8], NDArray[np.float32]]:
    """int8 weights with one scale per column (the artefact is a quarter of float32's)."""
    scale = np.abs(w).max(axis=0) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(w / scale), -127, 127).astype(np.int8)
    return q, scale.astype(np.float32)


def _analyse(text: str) -> list[str]:
    return features(normalise(text))


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0
