"""Training the triage model: every head fitted on TF-IDF rows of the examples, with
calibration and flag thresholds from out-of-fold scores.

LinearSVC up to `SVM_LIMIT` examples (exact, a few seconds on the seed set); SGDClassifier
(hinge loss) beyond, its one-vs-rest classes fitted on every core (the loop releases the
interpreter's lock), and the second-level head one model per top level. The features are
counted by `dispatch.triage.features.count`, in several processes for large sets.
"""

from __future__ import annotations

import math
import os
import warnings
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dispatch.triage import features as text_features
from dispatch.triage.model import (
    BINARY_HEADS,
    HEADS,
    MULTI_HEADS,
    POLICE_PART,
    Example,
    Head,
    TriageModel,
    _sigmoid,
    _softmax,
    base_code,
    combine_top,
)

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
MIN_PART = 20  # police matters and other demands a top level needs for its police part
# Heads whose classes are weighed by their rarity: the top level (some have few demands), and the
# type (praise and suggestion are rare, and a rare type is otherwise taken for a common one;
# +0.2 points of type accuracy in 5-fold cross-validation on the seed set).
BALANCED = frozenset({"top", "type"})


class TrainingError(ValueError):
    """Examples a model cannot be trained on (message in Chinese, for the admin)."""



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
                         class_weight=class_weight, random_state=seed,
                         n_jobs=min(os.cpu_count() or 1, 4))


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
              seed: int, size: int | None = None) -> _Fitted:
    """The head fitted on every row, and out-of-fold scores for the rows of folds ≥ 0, each by a
    model of the rows of the other folds and of fold −1 (rows of fold −2 only train the final
    head); with folds 0…k−1 every row is scored once."""
    size = size or x.shape[0]
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


def _fit_children(x: Any, y: NDArray[Any], folds: NDArray[np.int64], seed: int) -> _Fitted:
    """The second-level head as one model per top level, each fitted on that top level's rows
    only (a child is told from its siblings: the top level is the top head's choice). Its cost
    is the sum over top levels of rows × children, not all rows × all second-level codes."""
    classes = sorted({str(v) for v in y})
    position = {c: i for i, c in enumerate(classes)}
    parent_of = np.array([c.split(".")[0] for c in classes])
    parent_of_row = np.array([str(v).split(".")[0] for v in y])
    coef = np.zeros((len(classes), x.shape[1]))
    intercept = np.zeros(len(classes))
    oof = np.full((x.shape[0], len(classes)), -10.0)
    for parent in np.unique(parent_of):
        rows = np.flatnonzero(parent_of_row == parent)
        columns = np.flatnonzero(parent_of == parent)
        if len(columns) == 1:  # an only child: always the one (score 0)
            oof[rows, columns[0]] = 0.0
            continue
        f = _fit_head(x[rows], y[rows], None, folds[rows], seed, size=x.shape[0])
        at = np.array([position[c] for c in f.classes], dtype=np.int64)
        coef[at], intercept[at] = f.coef, f.intercept
        oof[np.ix_(rows, at)] = f.oof
    return _Fitted(classes, coef, intercept, oof)


def top_labels(examples: Sequence[Example]) -> list[str]:
    """The top head's labels: the top level, and for a top level with enough police matters
    and enough other demands (公共安全: a fight and a residence-permit question), its police
    matters as a class of their own (``public_security~110``). One linear score cannot hold
    both kinds of demand, so police-like wording pulled ordinary demands into 公共安全; split,
    the two parts are merged again at prediction (their probabilities summed)."""
    police = Counter(e.top for e in examples if e.police)
    other = Counter(e.top for e in examples if not e.police)
    split = {t for t in police if police[t] >= MIN_PART and other[t] >= MIN_PART}
    return [e.top + POLICE_PART if e.police and e.top in split else e.top for e in examples]


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
        progress: Callable[[str], None] | None = None,
        counted: text_features.Counted | None = None) -> tuple[TriageModel, TrainingReport]:
    """Train every head on the examples; thresholds and calibration from out-of-fold scores.
    `counted`: the examples' texts already counted (in the same order)."""
    import time

    from scipy import sparse
    from sklearn.preprocessing import normalize

    check_examples(examples)
    started = time.perf_counter()
    say = progress or (lambda _: None)
    min_df = MIN_DF if len(examples) >= 50 else 1
    try:
        if counted is None:
            say("提取特征")
            counted = text_features.Counted([e.text for e in examples])
        if counted.n != len(examples):
            raise ValueError("counted texts are not the examples'")
        vocabulary, counts = counted.matrix(min_df=min_df, max_features=MAX_FEATURES)
    except ValueError:
        raise TrainingError("训练样本的文本没有可用的特征（文本为空或过短）") from None
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
    # Beyond SVM_LIMIT the second-level head is one model per top level (see _fit_children):
    # a tenth of the time of one model over every code, which costs about a point of
    # top-level accuracy on the seed set (its scores no longer help choose the top level).
    per_parent = n > SVM_LIMIT
    fitted: dict[str, _Fitted] = {}
    rows: dict[str, NDArray[np.int64]] = {}
    label_of = {head: [e.label(head) for e in examples] for head in HEADS}
    label_of["top"] = top_labels(examples)
    for head in HEADS:
        say(f"训练 {head}")
        labels = label_of[head]
        keep = np.array([v is not None for v in labels])
        y = np.array([str(v) for v, kept in zip(labels, keep, strict=True) if kept])
        rows[head] = np.flatnonzero(keep)
        weight = "balanced" if head in BALANCED else None
        if head == "second" and per_parent:
            fitted[head] = _fit_children(x[keep], y, fold_of[keep], seed)
        else:
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
    children = [np.array([i for i, p in enumerate(parents) if p == base_code(t)], dtype=int)
                for t in top.classes]
    # The second head's out-of-fold scores for every example (rows without a second-level
    # label get theirs from the full model: only the top-level combination uses them).
    second_all = np.asarray(x @ second.coef.T, dtype=np.float64) + second.intercept
    second_all[rows["second"]] = second.oof
    for head in MULTI_HEADS:
        f = fitted[head]
        y_names = [str(v) for v in label_of[head]]
        sel = scored[rows[head]]
        y_idx = np.array([f.classes.index(y_names[i]) for i in rows[head][sel]])
        scores = f.oof[sel]
        if head == "top" and not per_parent:
            scores = combine_top(scores, second_all[rows[head][sel]], children)
            temperature = _temperature(scores, y_idx)
        elif head == "second":
            temperature = _conditional_temperature(scores, y_idx, parents)
        else:
            temperature = _temperature(scores, y_idx)
        if head == "top":  # a top level's police part counts as the top level
            codes = np.array([base_code(c) for c in f.classes])
            right = codes[scores.argmax(1)] == codes[y_idx]
        else:
            right = scores.argmax(1) == y_idx
        report.oof[head] = {"accuracy": float(right.mean())}
        heads.append(Head(head, tuple(f.classes), start, f.intercept.astype(np.float32),
                          (temperature, 0.0)))
        columns.append(f.coef)
        start += len(f.classes)
    weights, scale = _quantise(np.vstack(columns).T)
    report.seconds = time.perf_counter() - started
    meta = {"examples": n, "features": len(vocabulary), "seed": seed,
            "estimator": "LinearSVC" if n <= SVM_LIMIT else "SGDClassifier",
            "second": "per_parent" if per_parent else "global"}
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


def _ratio(a: float, b: float) -> float:
    return float(a) / float(b) if b else 0.0
