"""Banks, regions, programmes and key figures named in a story, from the data files.

Banks: the registry's names and aliases, provincial branches of the large banks
(generated from the gazetteer), and the place-named families (X农商银行, X农村信用社,
X村镇银行) validated against the gazetteer. Regulators are masked first: 中国人民银行
supervises, it does not serve. Regions: full names of every division and the short
names of provinces and cities, resolved to one province and, when unambiguous, one
city and district.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import cached_property, lru_cache

from casebook.data import MUNICIPALITY_PREFIXES, Data, Region

CJK = r"\u4e00-\u9fff"


@dataclass
class BankIndex:
    canonical: dict[str, str]            # every alias -> the bank's name
    parent_of: dict[str, str]
    regulator_re: re.Pattern[str] | None
    place_names: dict[str, str]          # short or full place name -> short name
    bank_type: dict[str, str] = field(default_factory=dict)

    @cached_property
    def alias_re(self) -> re.Pattern[str]:
        # Compiled on first use (~0.2 s for thousands of aliases): checking a case file
        # needs only the names.
        return re.compile(_alternation(list(self.canonical)))

    @cached_property
    def trigger_re(self) -> re.Pattern[str]:
        """Matches somewhere in every text that names a bank: 银行, the families' suffixes, and
        the shortest aliases that lack 银行 (工行 for 工行北京分行). A text without a match
        names no bank, and the long alternation above never runs over it (most news)."""
        bare = sorted((a for a in self.canonical if "银行" not in a), key=len)
        cores: list[str] = []
        for alias in bare:
            if not any(core in alias for core in cores):
                cores.append(alias)
        return re.compile(_alternation(["银行", *FAMILY_TRIGGERS, *cores]))


def _alternation(words: list[str]) -> str:
    return "|".join(re.escape(w) for w in sorted(set(words), key=len, reverse=True))


@lru_cache(maxsize=4)
def bank_index(data: Data) -> BankIndex:
    canonical: dict[str, str] = {}
    parent_of: dict[str, str] = {}
    bank_type: dict[str, str] = {}
    provinces = data.gazetteer.provinces()
    for bank in data.banks["banks"]:
        name = bank["name"]
        bank_type[name] = bank.get("type", "")
        for alias in [name, *bank.get("aliases", [])]:
            canonical[alias] = name
        if bank.get("branches"):
            shorts = [name, *bank.get("short", [])]
            for province in provinces:
                branch = f"{name}{province.name}分行"
                parent_of[branch] = name
                bank_type[branch] = bank.get("type", "")
                for short in shorts:
                    for aliasform in (f"{short}{province.name}分行", f"{short}{province.short}分行",
                                      f"{short}{province.short}省分行"):
                        canonical.setdefault(aliasform, branch)
                    if short != name and len(province.short) >= 2:
                        canonical.setdefault(f"{province.short}{short}", branch)
    places: dict[str, str] = {}
    for region in data.gazetteer.regions.values():
        places[region.name] = region.short
        places[region.short] = region.short
    regulators = data.banks.get("regulators", [])
    return BankIndex(
        canonical=canonical, parent_of=parent_of,
        regulator_re=re.compile(_alternation(regulators)) if regulators else None,
        place_names=places, bank_type=bank_type)


FAMILY_PATTERNS = [
    (re.compile(rf"([{CJK}]{{2,10}}?)(?:农村商业银行股份有限公司|农村商业银行|农商银行|农商行)"), "{}农商银行", "rural"),
    (re.compile(rf"([{CJK}]{{2,10}}?)(?:农村信用合作联社|农村信用社联合社|农村信用合作社|农村信用社|信用联社|农信联社|农信社|农信)"),
     "{}农村信用社", "cooperative"),
    (re.compile(rf"([{CJK}]{{2,10}}?)村镇银行"), "{}村镇银行", "village"),
]


# Every family suffix below holds one of these (or 银行).
FAMILY_TRIGGERS = ("农商行", "信用", "农信")


def _place_suffix(prefix: str, places: dict[str, str]) -> str | None:
    """The longest tail of `prefix` that is a place name, as its short form."""
    for start in range(len(prefix) - 1):
        tail = prefix[start:]
        if tail in places:
            return places[tail]
    return None


def mask(text: str, pattern: re.Pattern[str] | None) -> str:
    if pattern is None:
        return text
    return pattern.sub(lambda m: "＿" * len(m.group(0)), text)


def find_banks(text: str, data: Data) -> Counter[str]:
    """Canonical bank names with their mention counts, in order of first mention."""
    index = bank_index(data)
    counts: Counter[str] = Counter()
    for _start, _end, name in bank_hits(text, data):
        counts[name] += 1
    for branch in [name for name in counts if name in index.parent_of]:
        parent = index.parent_of[branch]
        if parent in counts:
            counts[branch] += counts.pop(parent)
    return counts


def bank_hits(text: str, data: Data) -> list[tuple[int, int, str]]:
    """Every mention of a named bank: (start, end, canonical name), in text order, a name
    inside a longer one counted once."""
    index = bank_index(data)
    if not index.trigger_re.search(text):
        return []
    text = mask(text, index.regulator_re)
    hits: list[tuple[int, int, str]] = []
    for match in index.alias_re.finditer(text):
        hits.append((match.start(), match.end(), index.canonical[match.group(0)]))
    for pattern, template, _kind in FAMILY_PATTERNS:
        for match in pattern.finditer(text):
            place = _place_suffix(match.group(1), index.place_names)
            if place:
                start = match.end(1) - len(place) if match.group(1).endswith(place) else match.start(1)
                hits.append((start, match.end(), template.format(place)))
    hits.sort(key=lambda h: (h[0], -(h[1] - h[0])))
    kept: list[tuple[int, int, str]] = []
    last_end = -1
    for start, end, name in hits:
        if start < last_end:
            continue  # inside a longer name already counted
        kept.append((start, end, name))
        last_end = end
    return kept


def bank_type(name: str, data: Data) -> str:
    known = bank_index(data).bank_type.get(name)
    if known:
        return known
    for _pattern, template, kind in FAMILY_PATTERNS:
        if name.endswith(template.format("")):
            return kind
    return ""


# --- regions -----------------------------------------------------------------------------


@dataclass
class RegionIndex:
    pattern: re.Pattern[str]
    names: dict[str, list[Region]]


@lru_cache(maxsize=4)
def region_index(data: Data) -> RegionIndex:
    names: dict[str, list[Region]] = {}
    for region in data.gazetteer.regions.values():
        names.setdefault(region.name, []).append(region)
        if region.level in ("province", "city") and region.short != region.name:
            names.setdefault(region.short, []).append(region)
    return RegionIndex(re.compile(_alternation(list(names))), names)


@dataclass
class Place:
    province: str | None = None
    city: str | None = None
    district: str | None = None


def find_region(text: str, data: Data) -> Place:
    index = region_index(data)
    gaz = data.gazetteer
    mentions: list[Region] = []
    for match in index.pattern.finditer(text):
        mentions.extend(index.names[match.group(0)])
    if not mentions:
        return Place()
    votes: Counter[str] = Counter()
    for region in mentions:
        votes[gaz.province_of(region).code] += 1
    province = gaz.regions[votes.most_common(1)[0][0]]
    in_province = [r for r in mentions if gaz.province_of(r).code == province.code]
    districts = list(dict.fromkeys(r.code for r in in_province if r.level == "district"))
    if len(districts) == 1:
        district = gaz.regions[districts[0]]
        city = gaz.city_of(district)
        return Place(province.name, city.name if city else None, district.name)
    if province.code[:2] in MUNICIPALITY_PREFIXES:
        return Place(province.name, province.name, None)
    cities = set()
    for region in in_province:
        city = gaz.city_of(region)
        if city:
            cities.add(city.code)
    if len(cities) == 1:
        return Place(province.name, gaz.regions[cities.pop()].name, None)
    return Place(province.name, None, None)


# --- programmes ----------------------------------------------------------------------------

QUOTED_RE = re.compile(r"[“\"「]([^”\"」“]{2,16})[”\"」]")


def find_programs(text: str, data: Data) -> list[str]:
    rules = data.programs
    stop = set(rules.get("stoplist", []))
    suffixes = tuple(rules.get("suffixes", []))
    followers = tuple(rules.get("followers", []))
    found: list[tuple[int, str]] = []
    for name in rules.get("known", []):
        position = text.find(name)
        if position >= 0:
            found.append((position, name))
    for match in QUOTED_RE.finditer(text):
        name = match.group(1).strip()
        if name in stop or not re.search(rf"[{CJK}]", name):
            continue
        after = text[match.end(): match.end() + 6]
        if name.endswith(suffixes) or after.startswith(followers):
            found.append((match.start(), name))
    found.sort()
    names: list[str] = []
    for _, name in found:
        if name not in names and not any(name != other and name in other for other in names):
            names.append(name)
    # A known name inside a longer quoted one (晋社区 inside “晋社区”平台) is the same programme.
    return [n for n in names if not any(n != o and n in o and o not in rules.get("known", []) for o in names)]


# --- key figures ---------------------------------------------------------------------------

FIGURE_RE = re.compile(
    # (?<![\d.]): a number starts only where a digit run starts, so a long run of digits is
    # read once, not once from each of its digits (quadratic).
    r"(?P<qual>超过|超|逾|近|约|累计|共|达到|达)?(?<![\d.])(?P<num>\d++(?:\.\d++)?)(?P<mult>[万亿千百]*+)"
    r"(?P<unit>%|个百分点|余户|万户|户|余家|家|个|余名|名|人次|余人|人|次|元|张|笔|场|期|项|台|平方米|公里|所|间|套|份|门|单|支)")
CLAUSE_SPLIT_RE = re.compile(r"[，。；;！？!?、,:：（）()\s]")


def find_figures(text: str, limit: int = 12) -> list[str]:
    """Key figures with what they count: 平台用户达到540万户, 入驻小区5557个, 订单金额达1.7亿元."""
    figures: list[str] = []
    for match in FIGURE_RE.finditer(text):
        number = float(match.group("num"))
        big = bool(match.group("mult")) or match.group("unit") in ("%", "个百分点")
        if not big and number < 10:
            continue
        if match.group("unit") in ("个", "次", "期", "场") and not match.group("mult") and number < 50:
            continue
        start = match.start()
        clause_start = max((m.end() for m in CLAUSE_SPLIT_RE.finditer(text, max(0, start - 16), start)),
                           default=max(0, start - 16))
        clause_end_match = CLAUSE_SPLIT_RE.search(text, match.end())
        clause_end = min(clause_end_match.start() if clause_end_match else len(text), match.end() + 12)
        phrase = text[clause_start:clause_end].strip()
        if phrase and phrase not in figures:
            figures.append(phrase)
        if len(figures) >= limit:
            break
    return figures
