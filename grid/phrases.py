"""The operator's ticket templates and common phrases (常用语), shipped with the code in
grid/data/intake_phrases.json (edit the file and restart to change them): templates per top-level
category, phrases for any call."""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PHRASES_FILE = Path(__file__).parent / "data" / "intake_phrases.json"


@lru_cache(maxsize=1)
def intake_phrases() -> dict[str, Any]:
    """{"common": [phrase, ...], "templates": {category: [template, ...]}}."""
    data = json.loads(PHRASES_FILE.read_text(encoding="utf-8"))
    return {"common": list(data.get("common", [])),
            "templates": {k: list(v) for k, v in data.get("templates", {}).items()}}
