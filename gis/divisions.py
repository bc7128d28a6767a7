"""The names of a county's parents (GB/T 2260): what an address may write before the district's
own name without leaving it — 山东省济宁市 before 任城区 — so that a province or city that is
*not* a parent (北京市, 山东省曲阜市) marks an address of another district (gis/address.py).

Provinces are all here; prefecture-level cities only for Shandong, the province gridmap's data
covers. A district elsewhere gets its province only, and a city written without a county there
is not checked (an explicit county — 朝阳区 — always is).
"""

from __future__ import annotations

PROVINCES = {
    "11": "北京市", "12": "天津市", "13": "河北省", "14": "山西省", "15": "内蒙古自治区",
    "21": "辽宁省", "22": "吉林省", "23": "黑龙江省", "31": "上海市", "32": "江苏省",
    "33": "浙江省", "34": "安徽省", "35": "福建省", "36": "江西省", "37": "山东省",
    "41": "河南省", "42": "湖北省", "43": "湖南省", "44": "广东省", "45": "广西壮族自治区",
    "46": "海南省", "50": "重庆市", "51": "四川省", "52": "贵州省", "53": "云南省",
    "54": "西藏自治区", "61": "陕西省", "62": "甘肃省", "63": "青海省", "64": "宁夏回族自治区",
    "65": "新疆维吾尔自治区", "71": "台湾省", "81": "香港特别行政区", "82": "澳门特别行政区",
}
CITIES = {
    "3701": "济南市", "3702": "青岛市", "3703": "淄博市", "3704": "枣庄市", "3705": "东营市",
    "3706": "烟台市", "3707": "潍坊市", "3708": "济宁市", "3709": "泰安市", "3710": "威海市",
    "3711": "日照市", "3713": "临沂市", "3714": "德州市", "3715": "聊城市", "3716": "滨州市",
    "3717": "菏泽市",
}


def parents(code: str) -> tuple[str, ...]:
    """The province's and the city's names of a county code (370811 → 山东省, 济宁市); a
    municipality's districts have the municipality once (110105 → 北京市)."""
    names = [PROVINCES.get(code[:2]), CITIES.get(code[:4])]
    return tuple(dict.fromkeys(n for n in names if n))
