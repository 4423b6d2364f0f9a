"""Address geocoder: free text ("蒲东街道宏力大道与山海大道交叉口东100米") → a WGS-84 point with a
precision, from a gazetteer of the grid's streets and communities plus roads, landmarks and
other names (aliases).

How an address is read:

1. Normalise: NFKC (full-width → half-width), keep only letters and digits, then drop leading
   region prefixes (河南省, 新乡市, and the district's own names: the district is the whole
   jurisdiction, so naming it adds nothing).
2. Exact matching: every gazetteer spelling found as a substring, longest first, without
   overlaps. Spellings of two characters (蒲东, 张庄) are weak: they count only at the very start
   of the address or when nothing longer matched, since they hide inside other words.
3. Typo tolerance, unless a landmark matched exactly: names of four or more characters found
   in the unmatched rest of the text within one edit (two from ten characters on), with a
   unique best; a name with a two-character proper part (宏力 of 宏力大道) keeps that part as
   written. A typo match may swallow a weak spelling, or an area name it extends
   (翟桥村 in a misspelt 翟桥村村委会), never an exact road or landmark.
4. Resolution, most precise first: landmark > intersection of two roads > road > community >
   street. A street or community named alongside narrows repeated names; a name still repeated
   is never settled by picking one: the address falls back to the area all its candidates share,
   or to no match, and says why.

A `Gazetteer` is built once per grid version and shared by threads: nothing in it changes after
`__init__`.

The package, in the order an address is read: `places` (the vocabulary, `normalise`),
`gazetteer` (the spellings, the exact scan, `geocode`, `search`, `load_gazetteer`), `typos`
(step 3), `resolve` (step 4, in named steps) with `resolution` (what a resolution has found so
far) and `roads` (crossings and nearest points on the ground).
"""

from grid.geocoder.gazetteer import Gazetteer, load_gazetteer
from grid.geocoder.places import (
    ALIAS,
    INTERSECTION,
    KINDS,
    LANDMARK,
    MATCHED,
    MAX_ADDRESS,
    NO_MATCH,
    PRECISIONS,
    REGION_PREFIXES,
    ROAD,
    Geocoded,
    Place,
    normalise,
)

__all__ = ["ALIAS", "INTERSECTION", "KINDS", "LANDMARK", "MATCHED", "MAX_ADDRESS", "NO_MATCH",
           "PRECISIONS", "REGION_PREFIXES", "ROAD", "Gazetteer", "Geocoded", "Place",
           "load_gazetteer", "normalise"]
