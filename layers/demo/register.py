"""The demo district's register (实有人口·实有房屋·实有单位) and its care-visit history.

At full scale: 481,599 dwellings (each building's households, down to unit, floor and room),
1,162,189 persons (each building's residents; 99,664 floating, living mostly in rentals),
21,264 organisations (the city's sites among them) and two months of 每月必访 visits. All
synthetic: names drawn from common surnames, ID numbers well-formed (valid check characters)
but fictional, phone numbers random. Generated column by column with numpy and written with
COPY, the ID and phone numbers encrypted on the way (layers/register/crypto.py).

Loaded once: ``gridmap demo load`` adds the register when ``persons`` is empty.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sqlalchemy import Engine, text

from gis.metric import distance_m
from layers import clock
from layers.demo import names
from layers.register import identity
from layers.register.crypto import PersonalData
from layers.register.store import copy_rows

TOTAL_ORGANISATIONS = 21_264
CARE_TAGS = ("困难群众", "独居老人", "残疾家庭", "出租房屋", "失业人员", "留守儿童")
RESTRICTED_TAG = "重点人员"
# where floating residents come from: county code → name (nearby counties first)
ORIGINS = {
    "370826": "山东省济宁市微山县", "370827": "山东省济宁市鱼台县", "370828": "山东省济宁市金乡县",
    "370829": "山东省济宁市嘉祥县", "370830": "山东省济宁市汶上县", "370831": "山东省济宁市泗水县",
    "370832": "山东省济宁市梁山县", "370881": "山东省曲阜市", "370883": "山东省邹城市",
    "371702": "山东省菏泽市牡丹区", "371321": "山东省临沂市沂南县", "370902": "山东省泰安市泰山区",
    "320311": "江苏省徐州市泉山区", "410102": "河南省郑州市中原区", "411402": "河南省商丘市梁园区",
    "340302": "安徽省蚌埠市龙子湖区", "130102": "河北省石家庄市长安区",
}
ORIGIN_WEIGHTS = np.array([9, 7, 8, 9, 6, 5, 6, 6, 7, 5, 3, 3, 3, 2, 3, 2, 1], dtype=float)
ORG_KINDS = (("个体工商户", "2", 0.55), ("企业", "1", 0.33), ("社会组织", "5", 0.04),
             ("机关事业单位", "1", 0.03), ("门店商铺", "2", 0.05))
ORG_WORDS = ("商贸", "科技", "建材", "餐饮", "物流", "五金", "服装", "文化传媒", "家政", "汽修",
             "电子", "药房", "超市", "美容美发", "培训", "装饰", "食品", "农资", "印刷", "房产中介")


@dataclass
class Register:
    dwellings: pd.DataFrame
    persons: pd.DataFrame
    organisations: pd.DataFrame
    visits: pd.DataFrame


def _ranks(group: np.ndarray, key: np.ndarray | None = None) -> np.ndarray:
    """Each row's rank within its group (0 first), by ``key`` — or, without one, by the rows'
    order: how many earlier rows share its group."""
    order = np.lexsort((key if key is not None else np.arange(len(group)), group))
    in_order = group[order]
    starts = np.searchsorted(in_order, in_order)  # first place of each row's group
    ranks = np.empty(len(group), dtype=np.int64)
    ranks[order] = np.arange(len(group)) - starts
    return ranks


def generate(buildings: pd.DataFrame, sites: pd.DataFrame, *, scale: float, seed: int,
             today: dt.date) -> Register:
    """``buildings``: id, households, population, floating, floors, urban, address, lon, lat
    (ordered by id); ``sites``: name, kind, address, lon, lat, building_id."""
    rng = np.random.default_rng(seed + 11)
    dwellings = _dwellings(buildings, rng)
    persons, dwellings = _persons(buildings, dwellings, rng, today)
    organisations = _organisations(buildings, sites, rng, scale)
    visits = _visits(buildings, dwellings, persons, rng, today)
    return Register(dwellings, persons, organisations, visits)


def _dwellings(b: pd.DataFrame, rng) -> pd.DataFrame:
    h = b.households.to_numpy(dtype=np.int64)
    bi = np.repeat(np.arange(len(b)), h)
    k = np.arange(len(bi)) - np.repeat(np.cumsum(h) - h, h)
    urban = b.urban.to_numpy()[bi]
    per_floor = 2
    floors = np.maximum(b.floors.to_numpy(dtype=np.int64), 1)[bi]
    per_unit = floors * per_floor
    unit = np.where(urban, k // per_unit + 1, 0)
    j = k % per_unit
    floor = np.where(urban, j // per_floor + 1, 0)
    room = np.where(urban, floor * 100 + j % per_floor + 1, k + 1)
    area = np.where(urban, rng.normal(95, 22, len(bi)).clip(38, 220),
                    rng.normal(130, 35, len(bi)).clip(50, 320)).round(1)
    return pd.DataFrame({"id": np.arange(1, len(bi) + 1), "b": bi,
                         "building_id": b.id.to_numpy()[bi], "unit": unit, "floor": floor,
                         "room": room.astype(str), "area_m2": area})


def _persons(b: pd.DataFrame, d: pd.DataFrame, rng, today: dt.date):
    h = b.households.to_numpy(dtype=np.int64)
    p = b.population.to_numpy(dtype=np.int64)
    f = b.floating.to_numpy(dtype=np.int64)
    # occupied dwellings: as many as people allow, less ~4 % standing empty
    occupied_n = np.where(p > 0, np.maximum(1, np.minimum(h, p) - (h * 0.04).astype(np.int64)), 0)
    bi = d.b.to_numpy()
    rank = _ranks(bi, rng.random(len(d)))
    occupied = rank < occupied_n[bi]
    # rentals: enough occupied dwellings to house the floating residents, two or three apiece
    rental = occupied & (rank < np.minimum(occupied_n, np.ceil(f / 2.4).astype(np.int64))[bi])
    # one person per occupied dwelling, the rest spread over the building's occupied dwellings
    occ_ids = np.flatnonzero(occupied)  # sorted by building (dwellings are)
    occ_start = np.searchsorted(bi[occ_ids], np.arange(len(b)))
    extra = np.maximum(p - occupied_n, 0)
    eb = np.repeat(np.arange(len(b)), extra)
    pick = occ_ids[occ_start[eb] + (rng.random(len(eb)) * occupied_n[eb]).astype(np.int64)]
    count = np.zeros(len(d), dtype=np.int64)
    count[occ_ids] = 1
    count += np.bincount(pick, minlength=len(d))
    di = np.repeat(np.arange(len(d)), count)  # a person's dwelling (row index)
    n = len(di)
    pos = np.arange(n) - np.repeat(np.cumsum(count) - count, count)  # place in the household
    pb = bi[di]
    # floating: the building's first F people, those living in its rentals first
    frank = _ranks(pb, (~rental[di]).astype(float) + rng.random(n) * 0.5)
    floating = frank < f[pb]

    # ages and relations: a head, a spouse, then children (some households keep a parent)
    head_age = rng.integers(24, 82, len(d))[di]
    age = np.select(
        [pos == 0, pos == 1],
        [head_age, np.clip(head_age + rng.integers(-5, 6, n), 20, 95)],
        np.clip(head_age - rng.integers(22, 37, n), 0, 60))
    parent = (pos >= 2) & (rng.random(n) < 0.12) & (head_age < 55)
    age = np.where(parent, head_age + rng.integers(22, 30, n), age)
    relation = np.select([pos == 0, pos == 1, parent], ["户主", "配偶", "父母"], "子女")
    head_male = rng.random(len(d)) < 0.7
    male = np.select([pos == 0, pos == 1], [head_male[di], ~head_male[di]], rng.random(n) < 0.51)
    birth = (np.datetime64(today) - (age * 365.25 + rng.integers(0, 365, n)).astype("timedelta64[D]"))

    # ID numbers, built as integers: region (6) · birth date (8) · sequence (3), then the check
    # character; the sequence numbers people born the same day in the same county (odd: men)
    origin_codes = np.array([int(c) for c in ORIGINS])
    region = np.where(floating, origin_codes[rng.choice(len(origin_codes), n,
                                                        p=ORIGIN_WEIGHTS / ORIGIN_WEIGHTS.sum())],
                      370811)
    days = birth.astype("datetime64[D]")
    years = days.astype("datetime64[Y]").astype(np.int64) + 1970
    months = days.astype("datetime64[M]").astype(np.int64) % 12 + 1
    dom = (days - days.astype("datetime64[M]")).astype(np.int64) + 1
    ymd = years * 10_000 + months * 100 + dom
    group = (region * 100_000_000 + ymd) * 2 + male
    seq = _ranks(group)
    seq = 2 * (seq % 499) + np.where(male, 1, 2)
    first17 = (region * 10**11 + ymd * 1000 + seq).astype(str)
    id_numbers = np.char.add(first17, identity.id_check_chars(first17)).astype(object)

    surnames = np.array(list(names.SURNAMES))
    given = np.array(list(names.GIVEN))
    weights = 1.0 / np.arange(1, len(surnames) + 1) ** 0.6
    sur = surnames[rng.choice(len(surnames), n, p=weights / weights.sum())]
    # a household shares the head's surname, except spouses
    sur = np.where((pos >= 2) & ~parent, sur[np.repeat(np.cumsum(count) - count, count)], sur)
    g1 = given[rng.integers(0, len(given), n)]
    g2 = np.where(rng.random(n) < 0.75, given[rng.integers(0, len(given), n)], "")
    name = np.char.add(np.char.add(sur, g1), g2).astype(object)
    prefixes = np.array([133, 135, 137, 138, 139, 150, 151, 152, 157, 158, 159, 177, 180, 182,
                         187, 188, 198], dtype=np.int64)
    phone = (prefixes[rng.integers(0, len(prefixes), n)] * 10**8
             + rng.integers(0, 10**8, n)).astype(str).astype(object)
    phone[age < 12] = None
    origin = np.where(floating, region.astype(str), "")

    tags, care = _tags(d, di, pos, age, count, rental, b.urban.to_numpy()[bi], rng)
    registered_on = np.where(
        floating, (np.datetime64(today) - rng.integers(30, 5 * 365, n).astype("timedelta64[D]")),
        np.datetime64("NaT"))
    persons = pd.DataFrame({
        "id": np.arange(1, n + 1),
        "code": np.char.add("P", np.char.zfill(np.arange(1, n + 1).astype(str), 8)).astype(object),
        "name": name, "gender": np.where(male, "男", "女"), "birth_date": birth,
        "id_number": id_numbers, "phone": phone, "floating": floating,
        "origin": pd.Series(origin).map(ORIGINS).to_numpy(), "registered_on": registered_on,
        "dwelling_id": d.id.to_numpy()[di], "building_id": d.building_id.to_numpy()[di],
        "relation": relation, "tags": tags, "care": care, "age": age,
    })
    use = np.where(~occupied, "空置", np.where(rental, "出租", "自住"))
    ground_shop = occupied & ~rental & (d.floor.to_numpy() == 1) & (rng.random(len(d)) < 0.03)
    use = np.where(ground_shop, "经营", use)
    d = d.assign(use=use)
    # a rental's landlord: a registered resident of the district
    registered = persons.id.to_numpy()[~floating]
    d["landlord_id"] = np.where(rental, registered[rng.integers(0, len(registered), len(d))], 0)
    return persons, d


def _tags(d, di, pos, age, count, rental, urban, rng) -> tuple[np.ndarray, np.ndarray]:
    """Each person's tags as a PostgreSQL array literal, and whether they are on the visit list."""
    n = len(di)
    hard = (rng.random(len(d)) < 0.02)[di]  # the whole household
    disabled = ((rng.random(len(d)) < 0.012)[di]) & (pos == 0)
    alone_old = (count[di] == 1) & (age >= 70)
    unemployed = (age >= 18) & (age < 60) & (rng.random(n) < 0.015)
    left_behind = (~urban[di]) & (age < 16) & (rng.random(n) < 0.08)
    watched = (age >= 18) & (age < 66) & (rng.random(n) < 0.0005)
    columns = [("困难群众", hard), ("独居老人", alone_old), ("残疾家庭", disabled),
               ("失业人员", unemployed), ("留守儿童", left_behind), (RESTRICTED_TAG, watched)]
    text = pd.Series([""] * n, dtype=object)
    for tag, mask in columns:
        text[mask] = text[mask] + "," + tag
    care = hard | alone_old | disabled | unemployed | left_behind
    return ("{" + text.str.lstrip(",") + "}").to_numpy(), care


def _organisations(b: pd.DataFrame, sites: pd.DataFrame, rng, scale: float) -> pd.DataFrame:
    total = max(len(sites), round(TOTAL_ORGANISATIONS * scale))
    n = total - len(sites)
    urban = np.flatnonzero(b.urban.to_numpy())
    pool = urban if len(urban) else np.arange(len(b))
    where = pool[rng.integers(0, len(pool), n)]
    kinds = rng.choice(len(ORG_KINDS), n, p=[k[2] for k in ORG_KINDS])
    person_surnames = np.array(list(names.SURNAMES))
    stems = person_surnames[rng.integers(0, len(person_surnames), n)]
    words = np.array(ORG_WORDS)[rng.integers(0, len(ORG_WORDS), n)]
    suffix = np.array(["个体户", "有限公司", "协会", "中心", "店"])
    kind_suffix = np.array([0, 1, 2, 3, 4])[kinds]
    made = pd.DataFrame({
        "name": [f"济宁市任城区{s}氏{w}{suffix[k]}{i + 1}" if k in (0, 4) else
                 f"济宁{s}{w}{suffix[k]}" + (f"（{i + 1}）" if k != 1 else f"{i + 1:05d}")
                 for i, (s, w, k) in enumerate(zip(stems, words, kind_suffix, strict=True))],
        "kind": [ORG_KINDS[k][0] for k in kinds],
        "type_char": [ORG_KINDS[k][1] for k in kinds],
        "address": b.address.to_numpy()[where],
        "building_id": b.id.to_numpy()[where],
        "lon": b.lon.to_numpy()[where], "lat": b.lat.to_numpy()[where],
    })
    site_kind = {"restaurant": "个体工商户", "key_enterprise": "企业", "construction_site": "企业",
                 "reception_room": "机关事业单位", "service_hall": "机关事业单位",
                 "school": "机关事业单位", "hospital": "机关事业单位", "park": "机关事业单位"}
    from_sites = pd.DataFrame({
        "name": sites.name.to_numpy(), "kind": sites.kind.map(site_kind).fillna("企业").to_numpy(),
        "type_char": "1", "address": sites.address.to_numpy(),
        "building_id": sites.building_id.to_numpy(), "lon": sites.lon.to_numpy(),
        "lat": sites.lat.to_numpy()})
    orgs = pd.concat([from_sites, made], ignore_index=True)
    org8 = rng.choice(10**8, len(orgs), replace=False)  # distinct organisation codes
    registry = np.where(orgs.kind == "社会组织", "5", np.where(orgs.kind == "机关事业单位", "1", "9"))
    orgs["credit_code"] = [identity.credit_code(r, t, "370811", f"{o:08d}")
                           for r, t, o in zip(registry, orgs.type_char, org8, strict=True)]
    orgs["contact_name"] = [person_surnames[i] + "经理" for i in rng.integers(0, len(person_surnames),
                                                                            len(orgs))]
    orgs["contact_phone"] = [f"0537{x:07d}" if rng.random() < 0.3 else f"139{x:08d}"
                             for x in rng.integers(0, 10**7, len(orgs))]
    return orgs.drop(columns=["type_char"])


def _visits(b: pd.DataFrame, d: pd.DataFrame, persons: pd.DataFrame, rng, today: dt.date):
    """Last month's visits (about 92 % of the list) and this month's so far."""
    this_month = today.replace(day=1)
    last_month = (this_month - dt.timedelta(days=1)).replace(day=1)
    due_people = persons[persons.care.to_numpy()]
    due_rentals = d[d.use.to_numpy() == "出租"]
    rows = []
    for month, share, days in ((last_month, 0.92, (this_month - last_month).days),
                               (this_month, min(0.9, today.day / 28 * 0.9), today.day)):
        for kind, frame in (("person", due_people), ("dwelling", due_rentals)):
            visited = frame[rng.random(len(frame)) < share]
            k = len(visited)
            building = (visited.building_id.to_numpy())
            bidx = np.searchsorted(b.id.to_numpy(), building)
            far = rng.random(k) < 0.03  # logged from somewhere else: flagged for review
            jitter = np.where(far, rng.uniform(0.004, 0.01, k), rng.uniform(0.0, 0.0003, k))
            angle = rng.uniform(0, 2 * np.pi, k)
            lon = b.lon.to_numpy()[bidx] + jitter * np.cos(angle)
            lat = b.lat.to_numpy()[bidx] + jitter * np.sin(angle) * 0.8
            day = rng.integers(0, max(days, 1), k)
            minutes = day * 1440 + rng.integers(8 * 60, 18 * 60, k)  # 8:00–18:00, Beijing time
            at = (np.datetime64(month, "m") + minutes.astype("timedelta64[m]")).astype(str)
            at = np.char.add(at.astype(str), "+08")
            rows.append(pd.DataFrame({
                "person_id": visited.id.to_numpy() if kind == "person" else None,
                "dwelling_id": visited.id.to_numpy() if kind == "dwelling" else None,
                "visited_at": at, "month": month,
                "distance_m": distance_m(lon, lat, b.lon.to_numpy()[bidx], b.lat.to_numpy()[bidx]),
                "lon": lon, "lat": lat}))
    return pd.concat(rows, ignore_index=True)


def load(engine: Engine, cipher: PersonalData, *, scale: float = 1.0, seed: int = 370811,
         today: dt.date | None = None, flag_m: float = 200.0,
         area: str | None = None) -> dict[str, int]:
    """Generate and COPY the register; returns counts written (nothing if persons exist).
    ``area``: only the buildings (and the sites nearest them) in the grids under this code —
    a whole city's demo registers one county (layers/demo/counties.py)."""
    within = ("WHERE id IN (SELECT building_id FROM building_grids WHERE grid_code LIKE :area)"
              if area else "")
    with engine.connect() as conn:
        if conn.execute(text("SELECT EXISTS (SELECT 1 FROM persons)")).scalar():
            return {}
        buildings = pd.DataFrame(conn.execute(text(f"""
            SELECT id, households, population,
                   coalesce((properties->>'floating_population')::int, 0) AS floating,
                   floors, properties ? 'compound' AS urban, address,
                   ST_X(ST_PointOnSurface(geom)) AS lon, ST_Y(ST_PointOnSurface(geom)) AS lat
            FROM buildings {within} ORDER BY id"""), {"area": f"{area}%"}).all(), columns=[
            "id", "households", "population", "floating", "floors", "urban", "address", "lon", "lat"])
        sites = pd.DataFrame(conn.execute(text(f"""
            SELECT s.name, s.kind, coalesce(s.address, s.name), ST_X(ST_PointOnSurface(s.geom)),
                   ST_Y(ST_PointOnSurface(s.geom)), b.id
            FROM sites s LEFT JOIN LATERAL (
                SELECT id FROM buildings ORDER BY buildings.geom <-> s.geom LIMIT 1) b ON true
            {within.replace("id IN", "b.id IN")}
            ORDER BY s.code"""), {"area": f"{area}%"}).all(),
            columns=["name", "kind", "address", "lon", "lat", "building_id"])
    register = generate(buildings, sites, scale=scale, seed=seed,
                        today=today or clock.today())
    counts = copy_rows(engine, register, cipher, flag_m=flag_m)
    # freshly loaded tables: set their visibility maps (index-only scans for the visit lists)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) persons, dwellings, visits"))
    return counts
