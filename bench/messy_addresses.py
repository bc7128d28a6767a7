"""Messy addresses with ground truth, generated from a city's buildings: every normalisation case
the geocoder promises to handle, in equal shares. Used by the accuracy test and the benchmark.
"""

from __future__ import annotations

import random
import re

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
