"""What the learned model reads in a demand: character 1–3-grams, jieba words and word pairs,
and a few cues of the request type (a question, the caller's own people, earlier calls, a
nuisance at home, someone else, a plea to act, a proposal, thanks).

`features` is the one definition, used alike when training and when predicting. `count`
builds the document-term counts of a training set; from `PARALLEL_FROM` texts on it splits them
over child interpreters, one per core (segmentation is pure Python and holds the interpreter's
lock, so threads would not help), and merges their vocabularies. Where a child cannot be run it
counts in this process and says so in the log.
"""

from __future__ import annotations

import logging
import os
import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import NDArray

from dispatch.triage.segmenter import segmenter

log = logging.getLogger("hotline.triage")

MAX_CHARS = 600  # a long complaint's first part says what it is about
PARALLEL_FROM = 20_000  # texts; below this, starting processes costs more than it saves
MAX_WORKERS = 4

_SPACE = re.compile(r"\s+")
_DIGIT = re.compile(r"\d")
_PUNCT = re.compile(r"^[\W_]+$")


# Cues of the request type (LABELLING.md: whose trouble, what is wanted), each one feature
# ``t<name>`` whatever its wording: the n-grams hold each wording apart, a cue pools them so a
# phrasing the seed set has seldom seen still counts. Matched on the normalised text (digits 0).
TYPE_CUES: dict[str, tuple[str, re.Pattern[str]]] = {
    name: (shown, re.compile(pattern)) for name, shown, pattern in (
        ("question", "问句",
         r"[吗嘛么呢不没][?？]*\$|请问|想问|问一下|问问|问下|咨询|能不能|可不可以|是否|怎么办|咋办|"
         r"咋弄|如何|哪里|在哪|多少|什么时候|啥时候|需要什么|要不要|算不算|合理|合法|正常不"),
        ("own", "自家的事",
         r"我家|俺家|我们家|俺们家|我的|俺的|我妈|俺娘|俺妈|我爸|俺爹|俺爸|我儿|俺儿|我闺女|"
         r"俺闺女|我孩子|俺孩子|我老婆|俺媳妇|我老公|俺男人|俺孙|我孙"),
        ("again", "多次反映",
         r"打了[好几两三四五六七八九十0]+[次回遍趟]|反映[过了]*[好几两三四五六七八九十0]+[次回遍趟]|"
         r"说了[好几]+[次回遍]|多次|一直没人|没人管|不管|推来推去|踢皮球"),
        ("home", "家中受扰",
         r"窗户|窗台|家里|屋里|卧室|睡不着|俺家门口|我家门口|楼上|楼下|隔壁|对门"),
        ("others", "他人或公共",
         r"有人|有个|有家|有辆|发现|看见|看到|路过|群众反映|市民来电反映"),
        ("act", "请求帮助", r"帮帮|帮忙|帮我|帮俺|救|求求|想办法|派人|来人|做主"),
        ("proposal", "建议", r"建议|希望|最好|应该|能不能[加增多装设建开延]"),
        ("thanks", "致谢", r"感谢|谢谢|表扬|点赞|锦旗|辛苦了|好样的"),
    )}


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
    """Character 1–3-grams (``c``), jieba words (``w``), adjacent word pairs (``p``) and the
    request-type cues the text holds (``t``)."""
    out = [f"c{norm[i:i + n]}" for n in (1, 2, 3) for i in range(len(norm) - n + 1)]
    words = _words(norm)
    out += [f"w{w}" for w in words]
    out += [f"p{a}|{b}" for a, b in zip(words, words[1:], strict=False)]
    out += [f"t{name}" for name, (_, pattern) in TYPE_CUES.items() if pattern.search(norm)]
    return out


def of_text(text: str) -> list[str]:
    """The features of a raw text."""
    return features(normalise(text))


def display(feature: str) -> str:
    """What a feature looks like in a reason: the text it stands for."""
    if feature.startswith("t") and feature[1:] in TYPE_CUES:
        return TYPE_CUES[feature[1:]][0]
    text = feature[1:].replace("|", "") if feature.startswith("p") else feature[1:]
    return text.strip("^$")


# ---------------------------------------------------------------- counting a training set


# One chunk's counts: its own vocabulary, and CSR rows (indptr, column indices, counts).
Chunk = tuple[list[str], NDArray[np.int64], NDArray[np.int32], NDArray[np.float32]]


def count_chunk(texts: Sequence[str]) -> Chunk:
    """The counts of some texts over a vocabulary of their own."""
    index: dict[str, int] = {}
    indptr = [0]
    indices: list[int] = []
    data: list[int] = []
    for text in texts:
        counts: dict[int, int] = {}
        for f in of_text(text):
            j = index.setdefault(f, len(index))
            counts[j] = counts.get(j, 0) + 1
        indices.extend(counts.keys())
        data.extend(counts.values())
        indptr.append(len(indices))
    return (list(index), np.array(indptr, dtype=np.int64), np.array(indices, dtype=np.int32),
            np.array(data, dtype=np.float32))


def workers_for(n: int) -> int:
    """How many processes count `n` texts."""
    if n < PARALLEL_FROM:
        return 1
    return max(1, min(os.cpu_count() or 1, MAX_WORKERS))


def count_chunks(texts: Sequence[str]) -> list[Chunk]:
    """The texts counted, in chunks each over a vocabulary of its own (in child interpreters
    from PARALLEL_FROM texts on)."""
    texts = list(texts)
    workers = workers_for(len(texts))
    chunks: list[Chunk] = []
    if workers > 1:
        chunks = _count_in_processes(texts, workers)
    return chunks or [count_chunk(texts)]


def count(texts: Sequence[str], *, min_df: int, max_features: int) -> tuple[list[str], Any]:
    """The vocabulary (sorted; features in at least `min_df` texts, the `max_features` most
    frequent) and the documents × vocabulary count matrix (scipy CSR, float32)."""
    return Counted(texts).matrix(min_df=min_df, max_features=max_features)


class Counted:
    """Texts segmented and counted once; the count matrix of all of them, or of a subset
    (`subset`) with a vocabulary of the subset's own, without segmenting them again (training
    measures a model of four fifths of the examples, then trains the stored one on all)."""

    def __init__(self, texts: Sequence[str] = (), chunks: list[Chunk] | None = None) -> None:
        self.chunks = chunks if chunks is not None else count_chunks(texts)
        self.n = sum(len(c[1]) - 1 for c in self.chunks)

    def subset(self, rows: Sequence[int] | NDArray[np.int64]) -> Counted:
        """The counts of these rows (increasing indices into the texts as given)."""
        wanted = np.asarray(rows, dtype=np.int64)
        if len(wanted) > 1 and not np.all(np.diff(wanted) > 0):
            raise ValueError("rows must be increasing")
        out: list[Chunk] = []
        offset = 0
        for vocabulary, indptr, indices, data in self.chunks:
            size = len(indptr) - 1
            mine = wanted[(wanted >= offset) & (wanted < offset + size)] - offset
            starts, ends = indptr[mine], indptr[mine + 1]
            take = np.concatenate([np.arange(a, b) for a, b in zip(starts, ends, strict=True)]
                                  ) if len(mine) else np.zeros(0, np.int64)
            new_indptr = np.concatenate([[0], np.cumsum(ends - starts)]).astype(np.int64)
            out.append((vocabulary, new_indptr, indices[take], data[take]))
            offset += size
        return Counted(chunks=out)

    def matrix(self, *, min_df: int, max_features: int) -> tuple[list[str], Any]:
        """The vocabulary and the documents × vocabulary counts (see `count`)."""
        return _merge(self.chunks, self.n, min_df, max_features)


def _count_in_processes(texts: list[str], workers: int) -> list[Chunk]:
    """The texts counted by `workers` child interpreters (``python -m
    dispatch.triage.features``: a fresh process, neither a fork of a threaded web or worker
    process nor a re-import of its main module; a daemonic pool process may start it too);
    [] when one of them fails."""
    import pickle
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    size = -(-len(texts) // workers)
    parts = [texts[i:i + size] for i in range(0, len(texts), size)]

    def run(part: list[str]) -> Chunk:
        child = subprocess.run([sys.executable, "-m", "dispatch.triage.features"],
                               input=pickle.dumps(part, protocol=5), capture_output=True,
                               check=True)
        chunk: Chunk = pickle.loads(child.stdout)  # noqa: S301 — our own child's answer
        return chunk

    try:
        with ThreadPoolExecutor(max_workers=len(parts)) as pool:
            return list(pool.map(run, parts))
    except (OSError, subprocess.CalledProcessError, pickle.UnpicklingError, EOFError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        log.warning("training: counting features in %d processes failed (%s %s); counting "
                    "in this process", workers, exc, detail.decode(errors="replace")[-500:])
        return []


def _merge(chunks: list[Chunk], n: int, min_df: int, max_features: int) -> tuple[list[str], Any]:
    from scipy import sparse

    index: dict[str, int] = {}
    mapped: list[NDArray[np.int64]] = []
    for vocabulary, _, indices, _ in chunks:
        ids = np.fromiter((index.setdefault(f, len(index)) for f in vocabulary),
                          dtype=np.int64, count=len(vocabulary))
        mapped.append(ids[indices])
    names = np.array(list(index), dtype=object)
    columns = np.concatenate(mapped) if mapped else np.zeros(0, np.int64)
    data = np.concatenate([c[3] for c in chunks]) if chunks else np.zeros(0, np.float32)
    df = np.bincount(columns, minlength=len(index))
    keep = np.flatnonzero(df >= min_df)
    if len(keep) > max_features:  # the most frequent over the corpus, as scikit-learn does
        # (ties by the feature's text, so that the choice does not depend on the chunks)
        total = np.bincount(columns, weights=data, minlength=len(index))
        keep = keep[np.lexsort((names[keep], -total[keep]))[:max_features]]
    if not len(keep):
        raise ValueError("no features left")
    keep = keep[np.argsort(names[keep])]  # sorted vocabulary
    new = np.full(len(index), -1, dtype=np.int64)
    new[keep] = np.arange(len(keep))
    indptr = np.concatenate([[0]] + [c[1][1:] + offset for c, offset in zip(
        chunks, np.cumsum([0] + [c[1][-1] for c in chunks[:-1]]), strict=True)])
    # Columns dropped by min_df / max_features go to one extra column, cut off at once.
    counts = sparse.csr_matrix((data, np.where(new[columns] < 0, len(keep), new[columns]),
                                indptr), shape=(n, len(keep) + 1))[:, :len(keep)]
    counts.sort_indices()
    return [str(v) for v in names[keep]], counts.astype(np.float32).tocsr()


if __name__ == "__main__":  # a counting child: pickled texts in, a pickled Chunk out
    import pickle
    import sys

    pickle.dump(count_chunk(pickle.load(sys.stdin.buffer)), sys.stdout.buffer,  # noqa: S301
                protocol=5)
