"""Messy addresses with ground truth, generated from a city's buildings: every normalisation case
the geocoder promises to handle, in equal shares (:func:`generate`), and the evaluation of
issue 21 (:func:`evaluation`, :func:`score`): forms the demo's own address writer never makes.
Used by the accuracy tests and the benchmark.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from functools import lru_cache

import pandas as pd

_FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
_CN = "〇一二三四五六七八九"


def _cn_number(n: int) -> str:
    if n < 10:
        return _CN[n]
    if n < 20:
        return "十" + (_CN[n % 10] if n % 10 else "")
    if n < 100:
        return _CN[n // 10] + "十" + (_CN[n % 10] if n % 10 else "")
    return "".join(_CN[int(d)] for d in str(n))


def _typo(word: str, rng: random.Random, alphabet: str, taken: set[str]) -> str | None:
    """One replaced or deleted character that does not spell another known name."""
    for _ in range(20):
        i = rng.randrange(len(word))
        if rng.random() < 0.5 and len(word) > 2:
            out = word[:i] + word[i + 1:]
        else:
            out = word[:i] + rng.choice(alphabet) + word[i + 1:]
        if out != word and out not in taken:
            return out
    return None


CASES = ("full_width", "chinese_numerals", "building_words", "nian_ershi", "shorthand",
         "no_upper_levels", "upper_levels", "unit_room", "spaces_punctuation", "typo")


def generate(buildings: pd.DataFrame, n: int = 10_000, seed: int = 1) -> list[tuple[str, str, str]]:
    """[(messy query, true building code, case)] — ``buildings`` needs code, address, road,
    house_number, compound, building_no (the demo's buildings have them)."""
    rng = random.Random(seed)
    urban = buildings[buildings["compound"].notna()].reset_index(drop=True)
    rural = buildings[buildings["compound"].isna()].reset_index(drop=True)
    nian = rural[rural["address"].str.startswith("廿里铺街道")].reset_index(drop=True)
    compounds = set(urban["compound"])
    roads = set(urban["road"])
    alphabet = "".join(sorted({c for name in compounds for c in name}))
    out: list[tuple[str, str, str]] = []
    while len(out) < n:
        case = CASES[len(out) % len(CASES)]
        b = urban.iloc[rng.randrange(len(urban))]
        road, no, comp, bno = b["road"], b["house_number"], b["compound"], b["building_no"]
        unit, room = rng.randint(1, 4), rng.choice([101, 302, 602, 1201, 1503])
        if case == "full_width":
            q = f"{road}{no}号{comp}{bno}号楼".translate(_FULL_WIDTH)
        elif case == "chinese_numerals":
            q = f"{road}{no}号{comp}{_cn_number(int(bno))}号楼{_cn_number(room)}"
        elif case == "building_words":
            q = f"{road}{no}号{comp}{bno}{rng.choice(['栋', '幢', '座', '号楼'])}"
        elif case == "nian_ershi":
            if nian.empty:
                continue
            r = nian.iloc[rng.randrange(len(nian))]
            q = r["address"].replace("廿里铺", "二十里铺")
            out.append((q, r["code"], case))
            continue
        elif case == "shorthand":
            q = f"{comp}{bno}-{unit}-{room}"
        elif case == "no_upper_levels":
            q = f"{comp}{bno}号楼"
        elif case == "upper_levels":
            if rng.random() < 0.3 and not rural.empty:
                r = rural.iloc[rng.randrange(len(rural))]
                out.append((f"山东省济宁市任城区{r['address']}", r["code"], case))
                continue
            q = f"山东省济宁市任城区{road}{no}号{comp}{bno}号楼"
        elif case == "unit_room":
            q = f"{road}{no}号{comp}{bno}号楼{unit}单元{room}室"
        elif case == "spaces_punctuation":
            q = f" {road} {no}号，{comp}（{bno}号楼） {unit}单元-{room} "
        else:  # typo: one wrong or missing character in the compound or the road name
            if rng.random() < 0.5:
                bad = _typo(comp, rng, alphabet, compounds)
                q = f"{road}{no}号{bad}{bno}号楼" if bad else None
            else:
                bad = _typo(road, rng, alphabet, roads)
                q = f"{bad}{no}号{comp}{bno}号楼" if bad else None
            if q is None:
                continue
        out.append((re.sub(r"None", "", q), b["code"], case))
    return out


# -- the evaluation of issue 21: forms the demo's address writer never makes ----------------------
# Built from the *parts* of the standard addresses (road, door plate, compound, building, street,
# community), places (name, other names, door plate) and villages, never from the stored address
# text; scored by the grid of the top answer and by the confident answers in a wrong grid.
SETS = ("standard", "variants", "typos", "landmarks", "free text")
_GENERIC = ("小区", "花园", "家园", "公寓", "宿舍")
# similar-sounding characters, as a pinyin keyboard offers them for the common name characters
_SOUNDS = ["园元圆源员", "苑院远愿", "华花化话", "城成程诚", "家佳嘉加", "新欣心馨", "金今津锦",
           "阳杨洋扬", "和河荷合何", "丽立力利", "景静井敬", "康抗慷", "泰太态", "瑞锐", "福富府复",
           "翠脆萃", "庭亭廷婷", "居局菊举", "雅亚压", "名明鸣铭", "都度渡", "星兴行", "书舒输",
           "香乡湘祥", "凤风丰峰枫", "紫子字", "海还", "棠堂唐塘", "玉宇雨语", "兰蓝岚", "秋求球",
           "竹珠朱主", "梧吴武午", "桐同童铜", "银因音吟", "杏幸性", "学雪", "东冬栋", "方芳房放",
           "世市事是", "纪记际计", "运云韵", "白百柏", "凰皇黄", "薇微威", "榭谢", "岸安案",
           "君军均", "临林琳", "怡宜益", "春纯", "晓小笑", "实石时", "明民", "光广", "盛胜圣",
           "泉全权", "山三珊", "湖胡虎", "城乘", "嘉佳", "府甫腐", "里理李", "庄装壮", "村存寸"]
_SOUND = {c: group for group in _SOUNDS for c in group}
_HOTLINE = ("市民来电反映：{a}楼道内堆放大量杂物，存在消防隐患，请尽快处理。",
            "【12345转办】{a}附近夜间施工噪音扰民，请核实。",
            "网友留言：我家住{a}，楼下路灯坏了好几天了，晚上出行不便。",
            "居民反映{a}门口有商贩占道经营，影响通行",
            "微信群消息 —— {a}的下水道堵了，麻烦网格员来看看！",
            "来电人称其住在{a}，家中老人独居需要关注")


@dataclass
class Item:
    query: str
    grid: str  # the true grid
    set: str
    form: str


def _digits_wide(text: str) -> str:
    return text.translate(_FULL_WIDTH)


@lru_cache(maxsize=1)
def _to_traditional():
    import opencc

    return opencc.OpenCC("s2t")


def _traditional(text: str) -> str:
    return _to_traditional().convert(text)


def _sound_typo(name: str, rng: random.Random, taken: set[str]) -> str | None:
    """One character of the name's distinctive part replaced by one that sounds alike."""
    spots = [i for i, c in enumerate(name) if c in _SOUND]
    rng.shuffle(spots)
    for i in spots:
        options = [c for c in _SOUND[name[i]] if c != name[i]]
        typo = name[:i] + rng.choice(options) + name[i + 1:]
        if typo not in taken:
            return typo
    return None


def evaluation(buildings: pd.DataFrame, places: pd.DataFrame, villages: pd.DataFrame,
               n: int = 2_000, seed: int = 21) -> list[Item]:
    """``n`` queries per set. ``buildings``: street, community, road, door_plate, compound,
    building, grid (urban buildings); ``places``: name, aliases (;-separated), road, door_plate,
    grid; ``villages``: name, grid (villages of one grid)."""
    rng = random.Random(seed)
    rows = buildings.to_dict("records")
    compounds = set(buildings["compound"])
    out: list[Item] = []

    def building() -> dict:
        return rows[rng.randrange(len(rows))]

    forms = {
        "standard": [
            lambda b, u, r: f"任城区{b['street']}{b['community']}{b['road']}{b['door_plate']}号"
                            f"{b['compound']}{b['building']}号楼{u}单元{r}室",
            lambda b, u, r: f"山东省济宁市任城区{b['street']}{b['community']}{b['road']}"
                            f"{b['door_plate']}号{b['compound']}{b['building']}号楼",
            lambda b, u, r: f"{b['street']}{b['road']}{b['door_plate']}号{b['compound']}"
                            f"{b['building']}号楼{u}单元{r}室",
            lambda b, u, r: f"{b['road']}{b['door_plate']}号{b['compound']}{b['building']}号楼"
                            f"{u}单元{r}",
        ],
        "variants": [
            lambda b, u, r: f"{b['compound']}{b['building']}#楼{u}-{r}",
            lambda b, u, r: f"{b['compound']}{b['building']}-{u}-{r}",
            lambda b, u, r: f"{b['compound']}{_cn_number(int(b['building']))}栋{_cn_number(u)}单元",
            lambda b, u, r: _traditional(f"{b['compound']}{b['building']}号楼{u}单元{r}室"),
            lambda b, u, r: _digits_wide(f"{b['road']}{b['door_plate']}号 {b['compound']} "
                                         f"{b['building']}幢"),
            lambda b, u, r: f"{b['compound']}{rng.choice(_GENERIC)}{b['building']}号楼{u}单元",
            lambda b, u, r: f"{b['compound']}{b['building']}号楼（{b['road']}{b['door_plate']}号）",
            lambda b, u, r: f"{b['road']}{b['door_plate']}号{b['building']}号楼{u}单元{r}室",
            lambda b, u, r: f"{b['community']}{b['compound']}{b['building']}座{r}",
            lambda b, u, r: f"{b['compound']} {b['building']}号楼 第{_cn_number(r // 100)}层",
        ],
    }
    for name in ("standard", "variants"):
        for k in range(n):
            b = building()
            form = forms[name][k % len(forms[name])]
            u, r = rng.randint(1, 4), rng.choice([101, 302, 502, 801, 1203])
            out.append(Item(form(b, u, r), b["grid"], name, f"{name}{k % len(forms[name])}"))
    while sum(item.set == "typos" for item in out) < n:
        b = building()
        typo = _sound_typo(b["compound"], rng, compounds)
        if typo is None:
            continue
        with_road = rng.random() < 0.5
        q = (f"{b['road']}{b['door_plate']}号{typo}{b['building']}号楼" if with_road
             else f"{typo}{b['building']}号楼{rng.randint(1, 4)}单元")
        out.append(Item(q, b["grid"], "typos", "with door plate" if with_road else "name only"))
    place_rows = places.to_dict("records")
    village_rows = villages.to_dict("records")
    compound_grids = buildings.groupby("compound")["grid"].agg(lambda g: set(g))
    one_grid = [c for c, g in compound_grids.items() if len(g) == 1]
    k = 0
    while sum(item.set == "landmarks" for item in out) < n:
        k += 1
        kind = k % 5
        if kind == 0 and place_rows:
            p = place_rows[rng.randrange(len(place_rows))]
            out.append(Item(p["name"], p["grid"], "landmarks", "place by name"))
        elif kind == 1 and place_rows:
            p = place_rows[rng.randrange(len(place_rows))]
            aliases = [a for a in (p["aliases"] if isinstance(p["aliases"], str) else "").split(";") if a]
            if aliases:
                out.append(Item(rng.choice(aliases), p["grid"], "landmarks", "place by other name"))
        elif kind == 2 and place_rows:
            p = place_rows[rng.randrange(len(place_rows))]
            if isinstance(p["road"], str):
                out.append(Item(f"{p['road']}{p['door_plate']}号", p["grid"], "landmarks",
                                "place by door plate"))
        elif kind == 3 and village_rows:
            v = village_rows[rng.randrange(len(village_rows))]
            name = v["name"] if rng.random() < 0.7 else v["name"].removesuffix("村")
            out.append(Item(name, v["grid"], "landmarks", "village alone"))
        elif kind == 4 and one_grid:
            c = one_grid[rng.randrange(len(one_grid))]
            written = c if rng.random() < 0.5 else c + "小区"
            out.append(Item(written, next(iter(compound_grids[c])), "landmarks", "compound alone"))
    for k in range(n):
        b = building()
        inner = [f"{b['compound']}{b['building']}号楼", f"{b['compound']}{_cn_number(int(b['building']))}号楼"
                 f"{_cn_number(rng.randint(1, 3))}单元",
                 f"{b['road']}{b['door_plate']}号{b['compound']}{b['building']}栋",
                 _traditional(f"{b['compound']}{b['building']}号楼")][k % 4]
        out.append(Item(_HOTLINE[k % len(_HOTLINE)].format(a=inner), b["grid"], "free text",
                        f"sentence{k % len(_HOTLINE)}"))
    return out


def score(gazetteer, items: list[Item]) -> dict[str, dict]:
    """Per set: queries, top-1 in the right grid, confident answers, confident in a wrong grid
    (and the first few of those, to read)."""
    from gis.extract import find_addresses

    out: dict[str, dict] = {}
    for item in items:
        if item.set == "free text":
            found = find_addresses(gazetteer, item.query)
            matches = found[2] if found else []
        else:
            matches = gazetteer.search(item.query)[1]
        tally = out.setdefault(item.set, {"n": 0, "top1": 0, "confident": 0,
                                          "confident_wrong": 0, "wrong_examples": []})
        tally["n"] += 1
        top = matches[0] if matches else None
        grid = top.entry.grid_code if top else None
        tally["top1"] += grid == item.grid
        if top is not None and top.confident:
            tally["confident"] += 1
            if grid != item.grid:
                tally["confident_wrong"] += 1
                if len(tally["wrong_examples"]) < 5:
                    tally["wrong_examples"].append((item.query, item.form, top.entry.address))
    return out
