"""Free text with an address inside: hotline notes (12345 工单) and WeChat-style messages to a
grid worker, written around a building's, a village house's or a place's address, with the
noise such text carries (times, counts, masked phone numbers, emoji)."""

from __future__ import annotations

import random

from bench.address_eval.forms import Parts

TIMES = ("今天上午10点左右", "昨晚8点多", "今天早上7点", "本周三下午", "3月15日", "近一周", "这两天")

# {addr}: the address as the writer would put it; {compound}/{bld} when the building comes apart
HOTLINE = (
    "市民来电反映：{addr}楼道内堆放大量杂物，存在消防隐患，请核实处理。",
    "来电人称{addr}附近路灯不亮已有一周，要求尽快维修。",
    "{time}，群众反映{addr}有人占道经营，影响通行，请派员处理。",
    "诉求人反映其居住的{addr}楼上漏水，多次协调未果，要求社区介入。",
    "来电反映：{addr}门口垃圾桶满溢，无人清运，气味很大。联系电话138****5521。",
    "工单：{addr}下水道堵塞，污水外溢，{time}已发生2次。",
    "【12345转办】{addr}有居民私拉电线给电动车充电，存在安全隐患。",
)
WECHAT = (
    "网格员你好～{addr}这边有人遛狗不牵绳🐶，孩子都不敢下楼了",
    "请问一下{addr}的网格员是谁呀？想咨询一下居住证的事",
    "@网格员 {addr}电梯又坏了！！！已经3天了",
    "我家住{addr}，楼下饭店油烟太大了，晚上10点还在营业",
    "在吗？{addr}门口的井盖丢了，很危险🙏",
    "你好 我是{addr}的住户 想问下疫苗接种点在哪",
)
SPLIT = (  # the compound first, the building later in the sentence
    "您好，我是{compound}的，{bld}楼道里堆满了杂物，能不能派人来看看？",
    "{compound}这边{bld}门口停满了电动车，消防通道都堵了",
    "反映个问题：{compound}，{bld}{unit}楼顶漏水，物业不管",
)
VILLAGE = (
    "我是{village}的村民，{addr}旁边有人烧秸秆，烟很大",
    "{time}{addr}门前的路塌了一个坑，晚上看不见容易摔",
    "来电人称{addr}的自来水停了2天，要求尽快恢复供水。",
)
PLACE = (
    "{name}门口有摆摊的，把路都堵了，麻烦管一管",
    "市民反映{name}附近夜间施工噪音扰民，{time}仍在施工。",
    "我在{name}这边，路边井盖松动了，车一过就响",
)


def building_sentence(p: Parts, rng: random.Random) -> tuple[str, str]:
    """A sentence about a building (a compound's or a village house); returns (text, form)."""
    time = rng.choice(TIMES)
    if p.village_house:
        addr = rng.choice([f"{p.community}{p.plate}号", f"{p.street}{p.community}{p.plate}号"])
        return rng.choice(VILLAGE).format(addr=addr, village=p.community, time=time), "village_house"
    bld = rng.choice([f"{p.building}号楼", f"{p.building}栋", f"{p.building}#楼"])
    unit = f"{p.unit}单元" if p.unit is not None else ""
    kind = rng.random()
    if kind < 0.3:
        return rng.choice(SPLIT).format(compound=p.compound, bld=bld, unit=unit), "compound_split"
    addr = rng.choice([
        f"{p.compound}{bld}{unit}",
        f"{p.road}{p.plate}号{p.compound}{bld}",
        f"{p.street}{p.compound}{bld}{unit}",
        f"{p.compound}{bld}{unit}{p.room}室" if p.room else f"{p.compound}{bld}",
    ])
    if kind < 0.65:
        return rng.choice(HOTLINE).format(addr=addr, time=time), "hotline"
    return rng.choice(WECHAT).format(addr=addr, time=time), "wechat"


def place_sentence(name: str, rng: random.Random) -> str:
    return rng.choice(PLACE).format(name=name, time=rng.choice(TIMES))
