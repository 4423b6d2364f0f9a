"""The demo county's dispatch catalogue: which department leads each category, where."""

from __future__ import annotations

from typing import Any

from grid.demo.county import County
from grid.demo.gazetteer import Gazetteer

# ---------------------------------------------------------------- dispatch catalogue

# category: (lead, co-handlers, co_territorial, on_site, note). lead None = the street office.
CATALOGUE: dict[str, tuple[str | None, tuple[str, ...], bool, bool, str]] = {
    "urban": ("urban_management", (), False, True, "城市管理事项由城管局主办"),
    "urban.appearance": ("urban_management", (), True, True,
                         "占道经营、流动摊贩等由城管执法，属地配合"),
    "urban.illegal_construction": ("urban_management", ("natural_resources",), True, True,
                                   "违法建设由城管查处，自然资源和规划局认定，属地配合"),
    "urban.sanitation": (None, ("urban_management",), False, True,
                         "城区环境卫生由街道属地负责，城管局环卫所指导（乡镇见各乡镇规则）"),
    "urban.sanitation.muck": ("urban_management", ("transport", "public_security"), False, True,
                              "渣土车辆由城管主办，交通运输、公安交警协办"),
    "urban.municipal_facilities": ("urban_management", (), False, True,
                                   "井盖、路灯、排水等市政设施由城管局维护"),
    "urban.landscaping": ("urban_management", (), False, True, "园林绿化由城管局园林绿化中心负责"),
    "urban.animals": ("urban_management", ("public_security",), True, True,
                      "违规养犬由城管主办，公安协办"),
    "environment": ("ecology_environment", (), False, False, "生态环境事项由生态环境分局主办"),
    "environment.noise": ("ecology_environment", (), True, True, "噪声扰民需现场核查"),
    "environment.noise.construction_noise": ("ecology_environment", ("housing_construction",),
                                             False, True, "施工噪声由生态环境主办，住建协办"),
    "environment.air": ("ecology_environment", (), True, True, "油烟、扬尘、焚烧需现场核查"),
    "environment.water": ("ecology_environment", ("water_resources",), False, True,
                          "水污染由生态环境主办，水利局协办"),
    "environment.solid_waste": ("ecology_environment", (), False, True, "固体废物监管"),
    "environment.ecology": ("ecology_environment", ("natural_resources",), False, True,
                            "非法采砂、毁林开垦：自然资源和规划局协办"),
    "environment.other_pollution": ("ecology_environment", (), False, False, "辐射、土壤、光污染"),
    "transport": ("transport", (), False, False, "交通出行事项由交通运输局主办"),
    "transport.public_transit": ("transport", (), False, False, "公交线路、站点、服务"),
    "transport.taxi": ("transport", (), False, False, "出租车、网约车、非法营运"),
    "transport.roads": ("transport", (), False, True, "道路破损、积水需现场核查"),
    "transport.traffic_management": ("public_security", (), False, False,
                                     "信号灯、拥堵、停车由公安交警大队负责"),
    "transport.passenger_freight": ("transport", (), False, False, "客运、驾培、货运物流"),
    "utilities": ("housing_construction", (), False, False, "公用事业由住建局监管"),
    "utilities.water": ("water_supply", (), False, True, "停水、漏水由自来水公司处置"),
    "utilities.electricity": ("power_supply", (), False, True, "停电、线路隐患由供电公司处置"),
    "utilities.gas": ("gas_supply", ("housing_construction",), False, True,
                      "燃气由燃气公司处置，住建局监管"),
    "utilities.heating": ("housing_construction", (), False, False, "供热由住建局监管"),
    "utilities.telecom": ("government_services_big_data", (), False, False,
                          "通信事项由政务服务和大数据管理局协调各运营商"),
    "housing": ("housing_construction", (), False, False, "住房物业事项由住建局主办"),
    "housing.property_management": ("housing_construction", (), True, False,
                                    "物业管理由住建局主办，街道指导业主委员会"),
    "housing.building_safety": ("housing_construction", (), True, True, "危房、房屋质量需现场核查"),
    "housing.transactions": ("housing_construction", ("market_regulation",), False, False,
                             "商品房交付、中介由住建主办，市场监管协办"),
    "housing.expropriation": ("housing_construction", ("natural_resources",), True, False,
                              "征收拆迁由住建主办，自然资源协办，属地配合"),
    "housing.real_estate": ("natural_resources", (), False, False,
                            "不动产登记由自然资源和规划局办理"),
    "housing.housing_security": ("housing_construction", (), False, False, "公租房、保障房"),
    "market": ("market_regulation", (), False, False, "市场监管事项由市场监管局主办"),
    "market.consumer_rights": ("market_regulation", (), False, False, "消费纠纷、预付卡"),
    "market.food": ("market_regulation", (), False, True, "食品安全需现场检查"),
    "market.pricing": ("market_regulation", ("development_reform",), False, False,
                       "价格监管，发改委协办"),
    "market.product_quality": ("market_regulation", (), False, False, "假冒伪劣、特种设备"),
    "market.market_entities": ("market_regulation", (), False, False, "营业执照、无照经营"),
    "labour": ("human_resources_social_security", (), False, False, "劳动社保事项由人社局主办"),
    "labour.labour_relations": ("human_resources_social_security", (), False, False,
                                "拖欠工资、劳动合同"),
    "labour.social_insurance": ("human_resources_social_security", (), False, False, "社会保险"),
    "labour.social_insurance.medical_insurance": ("healthcare_security", (), False, False,
                                                  "医保由医疗保障局办理"),
    "labour.employment": ("human_resources_social_security", (), False, False,
                          "就业创业、职业培训"),
    "labour.personnel": ("human_resources_social_security", (), False, False, "职称、人事档案"),
    "health": ("health_commission", (), False, False, "医疗卫生事项由卫健委主办"),
    "health.medical_services": ("health_commission", (), False, False, "医院服务、医疗纠纷"),
    "health.public_health": ("health_commission", (), False, False, "疫苗、传染病防控"),
    "health.drugs_devices": ("market_regulation", ("health_commission",), False, False,
                             "药品器械由市场监管局（药品监管）主办"),
    "health.maternal_child": ("health_commission", (), False, False, "妇幼健康"),
    "health.illegal_practice": ("health_commission", (), False, True, "非法行医需现场核查"),
    "education": ("education_sports", (), False, False, "教育事项由教体局主办"),
    "education.enrollment": ("education_sports", (), False, False, "入学、学区"),
    "education.school_management": ("education_sports", (), False, False, "收费、师德师风"),
    "education.training_institutions": ("education_sports", ("market_regulation",), False, False,
                                        "校外培训由教体局主办，市场监管协办"),
    "education.campus": ("education_sports", ("public_security",), False, False,
                         "校园安全由教体局主办，公安协办"),
    "education.student_aid": ("education_sports", (), False, False, "助学金、营养餐"),
    "civil": ("civil_affairs", (), False, False, "民政事项由民政局主办"),
    "civil.social_assistance": ("civil_affairs", (), True, False, "低保、特困由民政主办，属地初审"),
    "civil.elderly": ("civil_affairs", (), False, False, "养老服务"),
    "civil.disability": ("civil_affairs", (), False, False, "残疾人服务"),
    "civil.social_affairs": ("civil_affairs", (), False, False, "殡葬、婚姻登记、区划地名"),
    "civil.child_welfare": ("civil_affairs", (), True, False, "留守、困境儿童，属地走访"),
    "civil.veterans": ("civil_affairs", (), False, False,
                       "退役军人服务（本演示县无退役军人事务局）"),
    "rural": ("agriculture_rural", (), False, False, "农业农村事项由农业农村局主办"),
    "rural.agriculture": ("agriculture_rural", (), False, False, "农资、种子、农机、补贴"),
    "rural.land": ("agriculture_rural", ("natural_resources",), True, False,
                   "土地承包、宅基地由农业农村局主办，自然资源协办"),
    "rural.village_affairs": (None, (), False, False, "村务由所在乡镇（街道）负责"),
    "rural.revitalization": ("agriculture_rural", (), False, False, "乡村振兴、人居环境"),
    "rural.water_conservancy": ("water_resources", (), False, False,
                                "河道、灌溉、防汛由水利局负责"),
    "public_security": ("public_security", (), False, False, "公共安全事项由公安局主办"),
    "public_security.public_order": ("public_security", (), False, False, "涉警事项转110"),
    "public_security.household_exit_entry": ("public_security", (), False, False, "户籍、出入境"),
    "public_security.vehicle_driver": ("public_security", (), False, False, "驾驶证、车辆登记"),
    "public_security.work_safety": ("emergency_management", (), True, True,
                                    "安全生产由应急管理局主办，属地配合"),
    "public_security.fire_safety": ("emergency_management", (), True, True,
                                    "消防通道、电动车充电隐患需现场核查"),
    "public_security.emergency": ("emergency_management", (), True, False, "自然灾害、应急避难"),
    "government": ("government_services_big_data", (), False, False,
                   "政务服务事项由政务服务和大数据局主办"),
    "government.consultation": ("government_services_big_data", (), False, False,
                                "办事指南、政策咨询"),
    "government.service_halls": ("government_services_big_data", (), False, False,
                                 "窗口、网上办事"),
    "government.conduct": ("petition", (), False, False, "机关作风问题由信访局交办"),
    "government.suggestions": ("government_services_big_data", (), False, False, "意见建议"),
    "government.business_environment": ("development_reform", (), False, False,
                                        "营商环境、惠企政策由发改委主办"),
    "other": (None, (), False, False, "其他事项按属地派至街道（乡镇）"),
    "other.general": (None, (), False, False, "其他事项按属地派至街道（乡镇）"),
}
# The Yellow River flood-plain towns: flood control goes on site with the town's help.
FLOOD_PLAIN = ("town_zhaodi", "township_wuqiu", "town_miaozhai", "township_lugang")


def build_catalogue(county: County, gazetteer: Gazetteer) -> list[dict[str, Any]]:
    """The dispatch catalogue: a county-wide rule for every first and second level, a few
    third-level rules, and area rules where a place differs."""
    rules = [{"category": category, "area": None, "lead": lead, "co_handlers": list(co),
              "co_territorial": co_territorial, "on_site": on_site, "note": note}
             for category, (lead, co, co_territorial, on_site, note) in CATALOGUE.items()]
    # Towns: sanitation stays with 城管 (functional rules may be narrower than a territorial
    # county-wide rule; the reverse would push a functional matter down to a street).
    for plan in county.plans.values():
        if not plan.urban:
            rules.append({"category": "urban.sanitation", "area": plan.code,
                          "lead": "urban_management", "co_handlers": [],
                          "co_territorial": True, "on_site": True,
                          "note": f"{plan.name}环境卫生由城管局环卫所负责，乡镇配合"})
    for code in FLOOD_PLAIN:
        rules.append({"category": "rural.water_conservancy", "area": code,
                      "lead": "water_resources", "co_handlers": ["emergency_management"],
                      "co_territorial": True, "on_site": True,
                      "note": "黄河滩区：防汛、河道事项现场处置，应急管理局与乡镇协办"})
    park = next(e["community"] for e in gazetteer.entries if e["name"] == "长垣起重工业园区")
    rules.append({"category": "public_security.work_safety", "area": park,
                  "lead": "emergency_management", "co_handlers": ["market_regulation"],
                  "co_territorial": True, "on_site": True,
                  "note": "起重工业园区：安全生产与特种设备一并检查"})
    return rules
