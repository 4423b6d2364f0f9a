"""The shipped demo county end to end: the committed grid, gazetteer, roster and catalogue load
through the same code an admin uses, and a demand in a town or a city street is routed to the
department a 长垣 dispatcher would choose."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import func, select

from grid.demo.reference import load_demo_grid
from grid.locator import GridCache
from grid.models import Area, CatalogueRule, GridVersion, RosterEntry
from grid.service import GridRouting
from tests.conftest import FAST_HASHER

# Monday 10:00 in Shanghai: day shift.
MORNING = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
TOWN, CITY = "town_naoli", "street_pudong"

# category → (lead for a demand in 恼里镇, lead for one in 蒲东街道); "=" is the street office.
ROUTING_TABLE = {
    "urban": ("urban_management", "urban_management"),
    "urban.appearance.street_vending": ("urban_management", "urban_management"),
    "urban.sanitation": ("urban_management", "="),
    "environment": ("ecology_environment", "ecology_environment"),
    "environment.noise": ("ecology_environment", "ecology_environment"),
    "transport": ("transport", "transport"),
    "transport.traffic_management": ("public_security", "public_security"),
    "utilities.water": ("water_supply", "water_supply"),
    "utilities.electricity": ("power_supply", "power_supply"),
    "utilities.gas": ("gas_supply", "gas_supply"),
    "housing": ("housing_construction", "housing_construction"),
    "market": ("market_regulation", "market_regulation"),
    "market.consumer_rights": ("market_regulation", "market_regulation"),
    "labour": ("human_resources_social_security", "human_resources_social_security"),
    "health": ("health_commission", "health_commission"),
    "education": ("education_sports", "education_sports"),
    "civil": ("civil_affairs", "civil_affairs"),
    "rural": ("agriculture_rural", "agriculture_rural"),
    "rural.village_affairs": ("=", "="),
    "public_security": ("public_security", "public_security"),
    "government": ("government_services_big_data", "government_services_big_data"),
    "other": ("=", "="),
}


def test_the_demo_county_loads_routes_every_top_level_category_and_finds_the_crossing(session):
    report = load_demo_grid(session, FAST_HASHER, MORNING)
    session.commit()
    assert report.cells == session.scalar(
        select(func.count()).select_from(Area).where(Area.level == "cell"))
    assert 2700 <= report.cells <= 3300
    assert session.scalar(select(func.count()).select_from(GridVersion)) == 1
    assert session.scalar(select(func.count()).select_from(RosterEntry)) == 2 * report.cells
    # Loading again changes nothing.
    assert load_demo_grid(session, FAST_HASHER, MORNING).already_loaded
    assert session.scalar(select(func.count()).select_from(GridVersion)) == 1

    grid = GridRouting(session, MORNING, GridCache())
    streets = {code: session.scalar(select(Area).where(Area.code == code)) for code in (TOWN, CITY)}
    top_levels = {c for c, in session.execute(select(CatalogueRule.category_code))
                  if "." not in c}
    assert top_levels >= {c for c in ROUTING_TABLE if "." not in c}

    got, want = {}, {}
    for category, leads in ROUTING_TABLE.items():
        for street, expected in zip((TOWN, CITY), leads, strict=True):
            area = streets[street]
            where = grid.locate(area.point_lon, area.point_lat, "WGS84", None)
            assert where.street == street and where.cell is not None
            routing = grid.route(category, where)
            got[category, street] = routing.lead
            want[category, street] = street if expected == "=" else expected
            assert routing.reasons, (category, street)
            if routing.on_site:
                assert routing.grid_worker is not None, (category, street, routing.reasons)
    assert got == want

    # The demo gazetteer finds the contract's crossing (on the county loaded once: loading it
    # takes seconds per backend).
    where = grid.locate(None, None, "WGS84", "长垣市蒲西街道宏力大道与山海大道交叉口")
    assert where.street == "street_puxi" and where.cell is not None
    assert where.precision == "intersection"
    nowhere = grid.locate(None, None, "WGS84", "火星基地一号楼")
    assert nowhere.cell is None and nowhere.flags == ("address_not_found",)
