"""The geocoder's vocabulary: the kinds of place and precisions, a gazetteer `Place`, the
`Geocoded` result, the spellings found in an address (`Match`), and `normalise`."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from grid.models import COMMUNITY, DISTRICT, STREET

ROAD, LANDMARK, ALIAS = "road", "landmark", "alias"
KINDS: tuple[str, ...] = (DISTRICT, STREET, COMMUNITY, ROAD, LANDMARK, ALIAS)
INTERSECTION = "intersection"
# Precisions of a match, most precise first.
PRECISIONS: tuple[str, ...] = (LANDMARK, INTERSECTION, ROAD, COMMUNITY, STREET)
MATCHED, NO_MATCH = "matched", "no_match"

MAX_ADDRESS = 200
# Prefixes above the district that say nothing inside it; the district's own names are added
# from the gazetteer.
REGION_PREFIXES: tuple[str, ...] = ("中华人民共和国", "中国", "河南省", "河南", "新乡市", "新乡")

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
# The precision rank of a kind of place, most precise first.
RANK = {LANDMARK: 0, ROAD: 1, COMMUNITY: 2, STREET: 3, DISTRICT: 4}
WEAK = 2  # spellings this short are weak (see the package docstring)
FUZZY_MIN = 4  # one edit in three characters leaves two: noise, not a typo


@dataclass(frozen=True)
class Place:
    """One gazetteer entry: an area, a road, a landmark, or another name of an area."""

    name: str
    kind: str  # district | street | community | road | landmark | alias
    lon: float
    lat: float
    street: str | None = None  # street code it lies in (a street: its own code)
    community: str | None = None  # community code (a community: its own code)
    code: str | None = None  # area code; for an alias, the code of the area it names
    line: tuple[tuple[float, float], ...] | None = None  # roads: polyline, WGS-84

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"place {self.name!r}: unknown kind {self.kind!r}")


@dataclass(frozen=True)
class Geocoded:
    """What an address resolved to, with the reasons shown to the operator."""

    outcome: str  # matched | no_match
    lon: float | None
    lat: float | None
    precision: str | None  # landmark | intersection | road | community | street
    street: str | None
    community: str | None
    matched: tuple[str, ...]  # gazetteer names used
    fuzzy: bool  # a typo-tolerant match was needed
    reasons: tuple[str, ...]


@dataclass(frozen=True)
class Entry:
    """A spelling's target place, and the other name it was reached by, if any."""

    place: Place
    alias: str | None


@dataclass(frozen=True)
class Match:
    """A spelling found in the address at [start, end)."""

    start: int
    end: int
    typed: str
    entries: tuple[Entry, ...]
    fuzzy: bool = False

    @property
    def kind(self) -> str:
        return self.entries[0].place.kind

    @property
    def places(self) -> list[Place]:
        return [e.place for e in self.entries]


def normalise(text: str) -> str:
    """NFKC, lower case, and only letters and digits kept (no spaces, punctuation, symbols)."""
    folded = unicodedata.normalize("NFKC", text).lower()
    return "".join(ch for ch in folded if unicodedata.category(ch)[0] in "LN")


def no_match(*reasons: str) -> Geocoded:
    return Geocoded(NO_MATCH, None, None, None, None, None, (), False, tuple(reasons))


def strip_ending(name: str, endings: Sequence[str]) -> str | None:
    for ending in endings:
        if name.endswith(ending) and len(name) - len(ending) >= WEAK:
            return name[: -len(ending)]
    return None

