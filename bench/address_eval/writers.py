"""How people write the parts of an address: numbers, characters, building notations, generic
words and typos. Written for this evaluation from the standard (GB/T 23705) and from how
registers and residents write, never from gridmap's own normaliser, so that what the geocoder
reads is not what its authors expected it to read.

Every writer is a pure function of its input and a ``random.Random`` (the sets are reproducible
from a seed).
"""

from __future__ import annotations

import functools
import random

DIGITS_CN = "〇一二三四五六七八九"
NUMERAL_CHARS = set("〇零一二三四五六七八九十百千万两廿")
# Generic words of compound names (通名): a resident adds or drops them at will.
GENERIC_WORDS = ("家属院", "小区", "花园", "公寓", "家园", "宿舍", "新村")

# Similar-sounding characters, as a pinyin keyboard or a hurried hand writes them (our own
# table). No substitute is a numeral or a word of an address's grammar (号, 楼, 栋, 单元 …), so a
# typo never invents a number or a building notation: a test checks both.
HOMOPHONES: dict[str, str] = {
    "园": "源圆原", "苑": "院愿", "华": "化桦", "府": "甫付富", "城": "成诚程",
    "庭": "廷亭停", "居": "局聚菊", "景": "井京境", "河": "合荷", "湖": "胡虎",
    "山": "珊衫", "兴": "星馨", "新": "心欣鑫", "明": "名鸣铭", "泰": "太台",
    "嘉": "佳家加", "雅": "亚娅", "锦": "金今", "福": "富复", "和": "合何",
    "平": "苹评萍", "安": "按岸", "康": "抗亢", "瑞": "锐睿", "阳": "杨洋扬",
    "光": "广洸", "江": "疆姜", "金": "今津", "东": "冬", "南": "楠",
    "西": "希溪", "里": "理李", "丽": "莉立", "竹": "珠筑", "梅": "美玫",
    "桂": "贵柜", "玉": "育宇", "兰": "蓝岚澜", "秋": "丘邱", "紫": "梓",
    "薇": "微维", "星": "兴", "银": "寅引", "棠": "堂唐塘", "桐": "同童铜",
    "荷": "河合", "君": "军均", "临": "林琳麟", "都": "督", "营": "英赢",
    "庄": "装壮", "楼": "娄", "汪": "王", "郭": "国", "孟": "梦", "贤": "显",
    "尚": "上", "宇": "雨语", "昌": "常", "盛": "胜", "祥": "翔", "顺": "舜",
    "义": "艺", "礼": "理", "孝": "校", "寺": "似", "团": "图", "结": "节",
    "凤": "风", "凰": "黄皇", "翠": "萃", "枫": "峰风", "林": "临琳", "怡": "宜",
    "峰": "锋风", "湾": "弯", "岸": "安", "洲": "州舟", "清": "青晴", "润": "闰",
    "沁": "芯", "馨": "新心", "畔": "盼", "亭": "庭", "轩": "宣", "阁": "格",
    "佳": "嘉家", "利": "力丽", "隆": "龙", "龙": "隆", "鑫": "新", "宏": "红洪",
    "鸿": "宏洪", "泉": "全", "松": "宋", "柏": "博", "槐": "怀", "运": "云",
    "济": "记", "宁": "凝", "胜": "盛", "开": "凯", "源": "园圆", "学": "雪",
}

FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in
              "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz#-()"}
FULL_WIDTH[" "] = "\u3000"


# Characters that carry an address's grammar (notations, units, levels): never a typo's substitute.
GRAMMAR_CHARS = set("号楼栋幢座室单元户层期村路街巷区镇乡组")


def full_width(text: str) -> str:
    """Digits, Latin letters, #, - and brackets as full-width forms (a Chinese input method's)."""
    return "".join(FULL_WIDTH.get(c, c) for c in text)


@functools.cache
def _opencc(config: str):
    import opencc

    return opencc.OpenCC(config)


def traditional(text: str, config: str = "s2t") -> str:
    """Traditional characters by OpenCC (``s2t``; ``s2tw`` for Taiwan's forms)."""
    return _opencc(config).convert(text)


# A hand's mix: the characters a user switches first when typing on a traditional keyboard.
MIXED_VARIANTS = {"号": "號", "楼": "樓", "园": "園", "区": "區", "单": "單", "门": "門"}


def mixed_variants(text: str, rng: random.Random) -> str:
    """Some characters traditional, the rest simplified (号→號, 楼→樓, 园→園 …), each switched
    with probability one half but at least one when any can be."""
    spots = [i for i, c in enumerate(text) if c in MIXED_VARIANTS]
    if not spots:
        return text
    chosen = {i for i in spots if rng.random() < 0.5} or {rng.choice(spots)}
    return "".join(MIXED_VARIANTS[c] if i in chosen else c for i, c in enumerate(text))


def cn_digits(number: str | int, zero: str = "〇") -> str:
    """Digit by digit, as room and door numbers are read: 502 → 五〇二 (or 五零二)."""
    return "".join(zero if d == "0" else DIGITS_CN[int(d)] for d in str(number))


def cn_int(n: int) -> str:
    """Positional reading: 3 → 三, 12 → 十二, 20 → 二十, 105 → 一百零五, 1403 → 一千四百零三."""
    if n == 0:
        return "零"
    if n >= 10000:
        high, low = divmod(n, 10000)
        rest = cn_int(low) if low else ""
        return cn_int(high) + "万" + ("零" + rest if rest and low < 1000 else rest)
    units = ((1000, "千"), (100, "百"), (10, "十"), (1, ""))
    out, pending_zero = "", False
    for value, unit in units:
        d, n = divmod(n, value)
        if d:
            if pending_zero:
                out += "零"
            out += DIGITS_CN[d] + unit
            pending_zero = False
        elif out:
            pending_zero = True
    if out.startswith("一十"):  # 十二, not 一十二, when ten leads
        out = out[1:]
    return out


def homophone_typo(name: str, rng: random.Random, *, keep_suffix: int = 0) -> str | None:
    """``name`` with one character replaced by a similar-sounding one from our table (never
    the last ``keep_suffix`` characters: 路, 街, 村 stay), or None if no character has one."""
    body = name[: len(name) - keep_suffix] if keep_suffix else name
    spots = [i for i, c in enumerate(body) if c in HOMOPHONES]
    if not spots:
        return None
    i = rng.choice(spots)
    return name[:i] + rng.choice(HOMOPHONES[name[i]]) + name[i + 1:]


def generic_core(name: str) -> str:
    """A compound's distinctive part: its name less any trailing generic words (凤凰小区 → 凤凰)."""
    changed = True
    while changed:
        changed = False
        for word in GENERIC_WORDS:
            if name.endswith(word) and len(name) - len(word) >= 2:
                name, changed = name[: -len(word)], True
    return name


def generic_suffix(name: str) -> str | None:
    return next((w for w in GENERIC_WORDS if name.endswith(w)), None)


def has_numeral(name: str) -> bool:
    return any(c in NUMERAL_CHARS for c in name)


def one_apart(a: str, b: str) -> bool:
    """True if ``a`` and ``b`` differ by at most one substituted, inserted or deleted character."""
    if a == b:
        return True
    if abs(len(a) - len(b)) > 1:
        return False
    if len(a) == len(b):
        return sum(x != y for x, y in zip(a, b, strict=True)) <= 1
    short, long_ = (a, b) if len(a) < len(b) else (b, a)
    return any(long_[:i] + long_[i + 1:] == short for i in range(len(long_)))


# -- building, unit and room notations -------------------------------------------------------
def building_word(no: str, style: str) -> str:
    """A building number written as registers and residents do."""
    return {
        "号楼": f"{no}号楼", "#楼": f"{no}#楼", "#": f"{no}#", "栋": f"{no}栋", "幢": f"{no}幢",
        "座": f"{no}座", "号": f"{no}号", "cn号楼": f"{cn_int(int(no))}号楼" if no.isdigit() else f"{no}号楼",
        "cn栋": f"{cn_int(int(no))}栋" if no.isdigit() else f"{no}栋",
    }[style]


def room_floor(room: str) -> int | None:
    """The floor a room number says (502 → 5, 1203 → 12), as the dwellings table also holds."""
    return int(room[:-2]) if room.isdigit() and len(room) >= 3 else None
