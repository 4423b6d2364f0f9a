"""The demo county's grid workers (one or more per cell) and their duty roster."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from grid.demo.county import County
from grid.demo.naming import Names

# ---------------------------------------------------------------- grid workers

PHONE_PREFIXES = ("1390373", "1383730", "1350373", "1513730", "1583730", "1863730",
                  "1890373", "1523730", "1373730", "1873730", "1823730", "1593730")
DAY, NIGHT = ("08:00", "20:00"), ("20:00", "08:00")
CITY_CELLS_PER_WORKER, TOWN_CELLS_PER_WORKER = 2, 3


def build_workers(county: County, rng: np.random.Generator) -> dict[str, list[dict[str, Any]]]:
    """Full-time grid workers (专职网格员: one per ~2 cells in the city, ~3 in the towns, each
    within one community) and one night standby (值班网格员) per street, with their roster."""
    names = Names(rng)
    phones: set[str] = set()
    workers: list[dict[str, Any]] = []
    roster: list[dict[str, Any]] = []

    def phone() -> str:
        while True:
            number = PHONE_PREFIXES[rng.integers(len(PHONE_PREFIXES))] + \
                f"{int(rng.integers(10_000)):04d}"
            if number not in phones:
                phones.add(number)
                return number

    for plan in county.plans.values():
        per = CITY_CELLS_PER_WORKER if plan.urban else TOWN_CELLS_PER_WORKER
        night = f"gw_{plan.slug}_night"
        number = 0
        for community in county.children(plan.code):
            cells = [c.code for c in county.children(community.code)]
            # Workers = cells / per, rounded up or down at random in proportion (a village of
            # 4 cells has one worker two times in three): `per` cells each on average.
            share = len(cells) / per
            count = max(1, math.floor(share) + int(rng.random() < share - math.floor(share)))
            groups = np.array_split(np.array(cells), count)
            for group in groups:
                number += 1
                username = f"gw_{plan.slug}_{number:03d}"
                display = names.person()
                if plan.code == "street_pudong" and number == 1:
                    username, display = "worker1", "网格员一"  # the demo account
                workers.append({"username": username, "display_name": display,
                                "phone": phone(), "department": plan.code})
                for cell in group:
                    roster.append({"cell": str(cell), "username": username,
                                   "weekdays": "1234567", "starts": DAY[0], "ends": DAY[1]})
        workers.append({"username": night, "display_name": names.person(), "phone": phone(),
                        "department": plan.code})
        for community in county.children(plan.code):
            for cell in county.children(community.code):
                roster.append({"cell": cell.code, "username": night, "weekdays": "1234567",
                               "starts": NIGHT[0], "ends": NIGHT[1]})
    return {"workers": workers, "roster": roster}
