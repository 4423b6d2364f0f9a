"""Typo tolerance: names of four or more characters found in the unmatched rest of an address
within one edit (two from ten characters on), with a unique best.

Candidates are found by pigeonhole: a name within one edit keeps one of its two halves as
written (within two edits, one of three parts); a name with a short proper part keeps that
part (see GENERIC_ENDINGS). So only names with such a piece in the text are measured, instead
of every name against every stretch of text.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping

from rapidfuzz.distance import Levenshtein

from grid.geocoder.places import CJK, FUZZY_MIN, RANK, WEAK, Entry, Match
from grid.models import DISTRICT

# Characters of ordinary speech that a place name does not gain by a typo: a window that needs
# one of them to reach a name is a sentence, not a misspelt name.
SPEECH = frozenset("的了我你他她是在有吗呢吧啊请想要问说和与及或这那就都也还很")
# Generic endings of road and place names. When what is left of a name is two characters or
# fewer ("宏力" of 宏力大道), a typo there leaves one character: that is another place, not a
# misspelling (春天小区 is not 春风小区), so the left part must appear as written.
GENERIC_ENDINGS = tuple(sorted((
    "大道", "大街", "路", "街", "巷", "胡同", "小区", "花园", "家园", "新城", "社区",
    "村委会", "村", "居委会", "医院", "卫生院", "小学", "中学", "学校", "幼儿园", "公园",
    "广场", "市场", "超市", "酒店", "宾馆", "银行", "中心", "大厦", "公司", "工厂", "厂",
    "车站", "站", "局", "所", "院", "苑", "府", "城", "街道", "镇", "乡", "办事处"),
    key=len, reverse=True))


class Typos:
    """The typo candidates of a gazetteer's spellings, by the pieces that survive a typo."""

    def __init__(self, index: Mapping[str, tuple[Entry, ...]]) -> None:
        self._index = index
        by_piece: dict[str, list[str]] = defaultdict(list)
        for key, ranked in index.items():
            if len(key) >= FUZZY_MIN and ranked[0].place.kind != DISTRICT:
                for piece in pieces(key):
                    by_piece[piece].append(key)
        self._by_piece: dict[str, tuple[str, ...]] = {k: tuple(v) for k, v in by_piece.items()}
        self._piece_lengths: tuple[int, ...] = tuple(sorted({len(k) for k in by_piece}))

    def matches(self, body: str, fixed: list[Match], areas: list[Match]) -> list[Match]:
        """Typo matches in the parts of `body` that the `fixed` matches leave free; one may
        cover an area name (`areas`) only where it names something more precise."""
        taken = [False] * len(body)
        for m in fixed:
            taken[m.start:m.end] = [True] * (m.end - m.start)
        segments: list[tuple[int, str]] = []
        i = 0
        while i < len(body):
            if taken[i]:
                i += 1
                continue
            j = i
            while j < len(body) and not taken[j]:
                j += 1
            if j - i >= FUZZY_MIN - 1 and CJK.search(body[i:j]):
                segments.append((i, body[i:j]))
            i = j
        hits: list[tuple[int, int, int, int, str]] = []  # edits, -length, start, end, key
        for offset, segment in segments:
            candidates: set[str] = set()
            for i in range(len(segment)):
                for n in self._piece_lengths:
                    if i + n > len(segment):
                        break
                    candidates.update(self._by_piece.get(segment[i:i + n], ()))
            for key in sorted(candidates):
                window = _best_window(key, segment)
                if window is None:
                    continue
                edits, a, b = window[0], offset + window[1], offset + window[2]
                covered = [m for m in areas if m.start < b and a < m.end]
                if covered and (
                        any(m.start < a or m.end > b for m in covered)  # cuts an area name
                        or RANK[self._index[key][0].place.kind] >= min(
                            RANK[m.kind] for m in covered)  # says no more than the area
                        or (b - a) - sum(m.end - m.start for m in covered) < WEAK):
                    continue
                hits.append((edits, -len(key), a, b, key))
        hits.sort()
        out: list[Match] = []
        blocked: list[tuple[int, int]] = []
        for edits, _, a, b, key in hits:
            if any(a < y and x < b for x, y in blocked):
                continue
            blocked.append((a, b))
            targets = {id(e.place) for e in self._index[key]}
            rivals = [h for h in hits if h[2] < b and a < h[3] and h[0] <= edits
                      and {id(e.place) for e in self._index[h[4]]} != targets]
            if not rivals:  # a tie between two names is no typo we can settle
                out.append(Match(a, b, body[a:b], self._index[key], fuzzy=True))
        return out


def _edits(key: str) -> int:
    """Typos tolerated in a name: one, two from ten characters on."""
    return 1 if len(key) < 10 else 2


def _short_stem(key: str) -> str | None:
    """The proper part of a name with a generic ending, when it is two characters or one."""
    ending = next((e for e in GENERIC_ENDINGS if key.endswith(e)), "")
    stem = key[: len(key) - len(ending)]
    return stem if ending and 0 < len(stem) <= WEAK else None


def pieces(key: str) -> tuple[str, ...]:
    """Parts of a name of which at least one survives any typo tolerated in it."""
    stem = _short_stem(key)
    if stem is not None:
        return (stem,)
    parts = _edits(key) + 1
    cuts = [len(key) * i // parts for i in range(parts + 1)]
    return tuple(key[a:b] for a, b in zip(cuts, cuts[1:], strict=False))


def _best_window(key: str, segment: str) -> tuple[int, int, int] | None:
    """The stretch of `segment` closest to `key` by edits, if within the allowed edits."""
    most = _edits(key)
    short_stem = _short_stem(key)
    best: tuple[int, int, int, int] | None = None  # edits, length difference, start, end
    for width in range(max(len(key) - most, FUZZY_MIN - 1), len(key) + most + 1):
        for start in range(0, len(segment) - width + 1):
            window = segment[start:start + width]
            edits = Levenshtein.distance(key, window, score_cutoff=most)
            if edits > most or (set(window) - set(key)) & SPEECH:
                continue
            if short_stem is not None and short_stem not in window:
                continue
            candidate = (edits, abs(width - len(key)), start, start + width)
            if best is None or candidate < best:
                best = candidate
    if best is None:
        return None
    return best[0], best[2], best[3]
