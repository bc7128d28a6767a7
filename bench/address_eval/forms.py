"""One building's address in the forms people write it: the standard form (GB/T 23705 order:
区/街道/社区 + 路 + 门牌 + 小区 + 楼 + 单元 + 室) and its common variants.

A form is a function ``(Parts, random.Random) -> str | None``; None means the form does not
apply to that building (no room to write, no generic word to drop …), and the set builder
picks another building.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, replace

from bench.address_eval import writers as w
from bench.address_eval.truth import Building, Truth


@dataclass(frozen=True)
class Parts:
    """The parts of one building's standard address, from the truth."""

    province: str
    city: str
    district: str
    street: str
    community: str  # the community, or the village for a village house
    road: str
    plate: str
    compound: str | None = None
    building: str | None = None
    unit: int | None = None
    floor: int | None = None
    room: str | None = None

    @classmethod
    def of(cls, truth: Truth, b: Building) -> Parts:
        grid = b.grid or ""
        street = truth.street_of(grid).name if grid else ""
        # a village house's community is its village, as the address writes it
        community = b.road if b.is_village_house else truth.community_of(grid).name if grid else ""
        room = b.room
        return cls(truth.province, truth.city, truth.district.name, street, community, b.road,
                   b.plate, b.compound, b.building_no, room.unit if room else None,
                   room.floor if room else None, room.room if room else None)

    @property
    def village_house(self) -> bool:
        return self.compound is None

    @property
    def has_room(self) -> bool:
        return self.room is not None and self.unit is not None


Form = Callable[[Parts, random.Random], "str | None"]


def _admin(p: Parts, *, district=True, street=True, community=True, province=False) -> str:
    out = p.province + p.city if province else ""
    return out + (p.district if district else "") + (p.street if street else "") + (
        p.community if community else "")


def _plate(p: Parts, plate: str | None = None) -> str:
    return f"{p.road}{plate or p.plate}号"


def _flat(p: Parts, *, building="号楼", unit=True, room=True, floor=False) -> str:
    """Building, unit and room: 1号楼2单元502室 (and variants of each)."""
    out = w.building_word(p.building or "", building)
    if unit and p.unit is not None:
        out += f"{p.unit}单元"
    if floor and p.floor is not None:
        out += f"{p.floor}层"
    if room and p.room is not None:
        out += f"{p.room}室"
    return out


def standard(p: Parts, rng: random.Random | None = None) -> str:
    """区 + 街道 + 社区 + 路 + 门牌 + 小区 + 楼 + 单元 + 室 (a village house: 区 + 街道 + 村 + 号)."""
    if p.village_house:
        return f"{p.district}{p.street}{p.community}{p.plate}号"
    return _admin(p) + _plate(p) + p.compound + _flat(p)


def _compound_only(fn: Form) -> Form:
    def form(p: Parts, rng: random.Random) -> str | None:
        return None if p.village_house else fn(p, rng)
    form.__doc__ = fn.__doc__
    return form


def _with_room(fn: Form) -> Form:
    def form(p: Parts, rng: random.Random) -> str | None:
        return fn(p, rng) if (not p.village_house and p.has_room) else None
    form.__doc__ = fn.__doc__
    return form


def _village_only(fn: Form) -> Form:
    def form(p: Parts, rng: random.Random) -> str | None:
        return fn(p, rng) if p.village_house else None
    form.__doc__ = fn.__doc__
    return form


def _spaced(parts: list[str], sep: str) -> str:
    return sep.join(x for x in parts if x)


# -- the variants of a compound building's address --------------------------------------------
COMPOUND_FORMS: dict[str, Form] = {
    # other word orders
    "order_compound_first": _compound_only(
        lambda p, r: f"{p.compound}{_flat(p)}（{_plate(p)}）"),
    "order_road_last": _compound_only(lambda p, r: f"{p.compound}{_flat(p)}，{_plate(p)}"),
    "order_admin_last": _compound_only(
        lambda p, r: f"{_plate(p)}{p.compound}{_flat(p)}，{_admin(p)}"),
    "order_compound_before_road": _compound_only(
        lambda p, r: f"{_admin(p)}{p.compound}{_plate(p)}{_flat(p)}"),
    # parts left out
    "no_district": _compound_only(lambda p, r: _admin(p, district=False) + _plate(p) + p.compound + _flat(p)),
    "no_street": _compound_only(lambda p, r: _admin(p, street=False) + _plate(p) + p.compound + _flat(p)),
    "no_community": _compound_only(
        lambda p, r: _admin(p, community=False) + _plate(p) + p.compound + _flat(p)),
    "no_admin": _compound_only(lambda p, r: _plate(p) + p.compound + _flat(p)),
    "no_road": _compound_only(lambda p, r: _admin(p) + p.compound + _flat(p)),
    "no_compound": _compound_only(lambda p, r: _admin(p) + _plate(p) + _flat(p)),
    "no_room": _compound_only(
        lambda p, r: _admin(p) + _plate(p) + p.compound + _flat(p, unit=False, room=False)),
    "no_unit": _with_room(lambda p, r: _plate(p) + p.compound + _flat(p, unit=False)),
    "compound_and_building": _compound_only(lambda p, r: p.compound + _flat(p, unit=False, room=False)),
    "with_province": _compound_only(
        lambda p, r: _admin(p, province=True) + _plate(p) + p.compound + _flat(p)),
    "with_floor": _with_room(lambda p, r: _admin(p) + _plate(p) + p.compound + _flat(p, floor=True)),
    # characters
    "traditional": _compound_only(lambda p, r: w.traditional(standard(p))),
    "traditional_tw": _compound_only(lambda p, r: w.traditional(standard(p), "s2tw")),
    "mixed_variants": _compound_only(lambda p, r: w.mixed_variants(standard(p), r)),
    "fullwidth": _compound_only(lambda p, r: w.full_width(standard(p))),
    "fullwidth_dash": _with_room(
        lambda p, r: w.full_width(f"{_plate(p)}{p.compound}{p.building}-{p.unit}-{p.room}")),
    # numbers in Chinese
    "cn_building": _compound_only(
        lambda p, r: _admin(p) + _plate(p) + p.compound + _flat(p, building="cn号楼")),
    "cn_building_dong": _compound_only(
        lambda p, r: _plate(p) + p.compound + _flat(p, building="cn栋")),
    "cn_unit": _with_room(lambda p, r: _plate(p) + p.compound + _flat(p, unit=False, room=False)
                          + f"{w.cn_int(p.unit)}单元{p.room}室"),
    "cn_room_digits": _with_room(lambda p, r: _plate(p) + p.compound + _flat(p, room=False)
                                 + f"{w.cn_digits(p.room)}室"),
    "cn_room_zero": _with_room(lambda p, r: _plate(p) + p.compound + _flat(p, room=False)
                               + f"{w.cn_digits(p.room, '零')}室"),
    "cn_plate_digits": _compound_only(
        lambda p, r: f"{p.road}{w.cn_digits(p.plate)}号{p.compound}{_flat(p)}"),
    "cn_plate": _compound_only(lambda p, r: f"{p.road}{w.cn_int(int(p.plate))}号{p.compound}{_flat(p)}"),
    "cn_everything": _with_room(
        lambda p, r: f"{p.road}{w.cn_int(int(p.plate))}号{p.compound}{w.cn_int(int(p.building))}号楼"
                     f"{w.cn_int(p.unit)}单元{w.cn_digits(p.room)}室"),
    # building notations
    "hash_lou": _compound_only(lambda p, r: _plate(p) + p.compound + _flat(p, building="#楼")),
    "hash": _compound_only(lambda p, r: _plate(p) + p.compound + _flat(p, building="#")),
    "dong": _compound_only(lambda p, r: _plate(p) + p.compound + _flat(p, building="栋")),
    "zhuang": _compound_only(lambda p, r: _plate(p) + p.compound + _flat(p, building="幢")),
    "zuo": _compound_only(lambda p, r: _plate(p) + p.compound + _flat(p, building="座")),
    "hao": _with_room(lambda p, r: p.compound + _flat(p, building="号")),
    "dash": _with_room(lambda p, r: f"{p.compound}{p.building}-{p.unit}-{p.room}"),
    "dash_with_road": _with_room(lambda p, r: f"{_plate(p)}{p.compound}{p.building}-{p.unit}-{p.room}"),
    "dash_after_building": _with_room(lambda p, r: f"{p.compound}{p.building}号楼{p.unit}-{p.room}"),
    "hu": _with_room(lambda p, r: f"{_plate(p)}{p.compound}{p.building}号楼{p.unit}单元{p.room}户"),
    "floor_lou": _with_room(
        lambda p, r: f"{p.compound}{p.building}号楼{p.unit}单元{p.floor}楼{p.room}"),
    "bare_room": _with_room(lambda p, r: f"{p.compound}{p.building}号楼{p.unit}单元{p.room}"),
    # spaces and punctuation
    "spaces": _compound_only(lambda p, r: _spaced(
        [p.district, p.street, p.community, _plate(p), p.compound, _flat(p)], " ")),
    "commas": _compound_only(lambda p, r: _spaced(
        [_admin(p), _plate(p), p.compound + _flat(p)], r.choice(["，", ",", "、"]))),
    "dashes_between": _compound_only(lambda p, r: _spaced(
        [p.street, p.community, _plate(p), p.compound, _flat(p)], "-")),
    "brackets_trailing": _compound_only(
        lambda p, r: f"{_plate(p)}（{p.compound}）{_flat(p)}。"),
    "spaces_inside_numbers": _compound_only(
        lambda p, r: f"{p.road} {p.plate} 号 {p.compound} {p.building} 号楼"),
}

# -- the variants of a village house's address ------------------------------------------------
VILLAGE_FORMS: dict[str, Form] = {
    "village_no_district": _village_only(lambda p, r: f"{p.street}{p.community}{p.plate}号"),
    "village_no_admin": _village_only(lambda p, r: f"{p.community}{p.plate}号"),
    "village_with_province": _village_only(
        lambda p, r: f"{p.province}{p.city}{p.district}{p.street}{p.community}{p.plate}号"),
    "village_no_suffix": _village_only(
        lambda p, r: f"{p.street}{p.community.removesuffix('村')}{p.plate}号"
        if p.community.endswith("村") and len(p.community) > 3 else None),
    "village_hao_yuan": _village_only(lambda p, r: f"{p.street}{p.community}{p.plate}号院"),
    "village_cn_plate": _village_only(
        lambda p, r: f"{p.street}{p.community}{w.cn_int(int(p.plate))}号" if p.plate.isdigit() else None),
    "village_traditional": _village_only(lambda p, r: w.traditional(standard(p))),
    "village_fullwidth": _village_only(lambda p, r: w.full_width(standard(p))),
    "village_spaces": _village_only(lambda p, r: f"{p.street} {p.community} {p.plate}号"),
}


def with_compound(p: Parts, name: str) -> Parts:
    return replace(p, compound=name)


def with_road(p: Parts, road: str) -> Parts:
    return replace(p, road=road)


def with_community(p: Parts, village: str) -> Parts:
    return replace(p, community=village)


def generic_added(p: Parts, rng: random.Random) -> str | None:
    """The compound name with a generic word added (吴泰闸府 → 吴泰闸府小区, 泰花园 → 泰花园小区)."""
    if p.compound.endswith(("小区", "期")):
        return None
    if w.generic_suffix(p.compound) or rng.random() < 0.6:
        return p.compound + "小区"  # 泰花园小区: a generic word on a generic word, as people write
    return p.compound + rng.choice(["花园", "家园", "公寓", "家属院"])


def generic_removed(p: Parts, rng: random.Random) -> str | None:
    """The compound name without its generic word (凤凰小区 → 凤凰); not where the rest ends in a
    numeral, which would run into the building number (九九花园7号楼 → 九九7号楼)."""
    core = w.generic_core(p.compound)
    return core if core != p.compound and core[-1] not in w.NUMERAL_CHARS else None


def generic_swapped(p: Parts, rng: random.Random) -> str | None:
    """Another generic word in place of the compound's own (凤凰小区 → 凤凰花园)."""
    suffix = w.generic_suffix(p.compound)
    core = w.generic_core(p.compound)
    if suffix is None or core == p.compound:
        return None
    return core + rng.choice([g for g in w.GENERIC_WORDS if g != suffix])
