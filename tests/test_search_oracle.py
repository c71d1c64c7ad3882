"""The search's main safety net: random query trees answered by the engine, in-process and
by one long-lived `casebook serve`, compared with a brute-force oracle over the normalized
texts — the complete result set (every page), the total and every facet count.

The corpus is real text (the seed cases and the 57 labelled news pages of the extraction
benchmark), with metadata spread over the news pages so that filters and facets have
something to choose between. Queries draw words that occur in most cases and in few,
fragments, single characters, Traditional and full-width forms, phrases, AND / OR / NOT /
-, nested parentheses, field filters under every alias and date ranges in every written
form; the API adds its own filters and date parameters.

CI runs CASEBOOK_DIFFERENTIAL_EXAMPLES (default 300) examples; a longer run:
    CASEBOOK_DIFFERENTIAL_EXAMPLES=5000 .venv/bin/python -m pytest -n 0 tests/test_search_oracle.py
"""

from __future__ import annotations

import dataclasses
import os
import random
import re
from collections import Counter
from dataclasses import dataclass
from itertools import cycle

import httpx
import opencc
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from casebook.errors import QueryError
from search.analysis import normalize
from search.fields import BY_NAME, FACET_FIELDS, FILTERS, QUERY_FIELDS
from search.query import SearchEngine, SearchRequest
from tests.conftest import start_server, stop_server

pytestmark = pytest.mark.shared
EXAMPLES = int(os.environ.get("CASEBOOK_DIFFERENTIAL_EXAMPLES", "300"))
FACET_VALUES = 50
BANKS = ["中国工商银行", "中国建设银行山西省分行", "成都农商银行", "上海农商银行", "中国邮政储蓄银行", "招商银行"]
PROVINCES = ["四川省", "上海市", "湖南省", "山西省", "广东省", "浙江省", ""]
CITIES = ["成都市", "上海市", "长沙市", "杭州市", "", ""]
TAGS = ["适老化", "普惠金融", "反诈宣传", "志愿服务", "新市民", "乡村振兴", "社区治理"]
SOURCES = ["新华网", "人民网", "中国金融新闻网", ""]


# --- the corpus --------------------------------------------------------------------------

def corpus() -> list:
    """The real cases with metadata spread deterministically over the news pages: several
    banks, provinces, tags; dates at day, month and second precision."""
    from bench.corpus import real_cases

    rng = random.Random(20261202)
    docs = []
    for number, doc in enumerate(real_cases()):
        if doc.slug.startswith("news-"):
            year, month, day = 2010 + number % 16, 1 + (number * 5) % 12, 1 + (number * 7) % 28
            # Undated drafts ("") and year-only dates too: a range must never take in the
            # first, and must take in the second where it overlaps that year.
            date = [f"{year}-{month:02d}-{day:02d}", f"{year}-{month:02d}",
                    f"{year}-{month:02d}-{day:02d}T{number % 24:02d}:15:00+08:00", f"{year}", ""][number % 5]
            doc = dataclasses.replace(
                doc, date=date, banks=rng.sample(BANKS, rng.randint(0, 2)), province=rng.choice(PROVINCES),
                city=rng.choice(CITIES), tags=rng.sample(TAGS, rng.randint(0, 3)), source=rng.choice(SOURCES),
                category=rng.choice(["金融知识宣传", "网点进社区", "网格化金融服务"]))
        docs.append(doc)
    return docs + tricky_cases(docs)


def tricky_cases(docs: list) -> list:
    """Cases written the way some sources write: a report in Traditional characters with
    full-width digits and letters, and one with a title another case already has (same day,
    so sorting by date ties)."""
    s2t = opencc.OpenCC("s2t")
    news = [d for d in docs if d.slug.startswith("news-") and d.date]
    traditional, twin = news[3], news[4]
    full_width = str.maketrans({c: chr(ord(c) + 0xFEE0) for c in "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"})
    return [
        dataclasses.replace(traditional, slug="zz-traditional", title=s2t.convert(traditional.title),
                            text=s2t.convert(traditional.text).translate(full_width)),
        dataclasses.replace(twin, slug="zz-twin", text=twin.text[: len(twin.text) // 2]),
    ]


@dataclass(frozen=True)
class Doc:
    slug: str
    date: tuple[int, ...]
    text: str                      # normalized title + "\n" + body
    title: str                     # normalized title
    fields: dict                   # field -> list of values (year included)


def oracle_docs(docs: list) -> list[Doc]:
    out = []
    for d in docs:
        dated = re.match(r"(\d{4})(?:-(\d\d))?(?:-(\d\d))?", d.date)
        date = tuple(int(p) for p in dated.groups() if p) if dated else ()   # () undated
        fields = {f.name: (([d.date[:4]] if date else []) if f.match == "year" else
                           list(getattr(d, f.name)) if isinstance(getattr(d, f.name), list) else
                           [getattr(d, f.name)] if getattr(d, f.name) else []) for f in FILTERS}
        out.append(Doc(d.slug, date, normalize(f"{d.title}\n{d.text}"), normalize(d.title), fields))
    return out


# --- query trees, the oracle, and their rendering in the query language ---------------------

@dataclass(frozen=True)
class Word:
    value: str


@dataclass(frozen=True)
class Phrase:
    value: str


@dataclass(frozen=True)
class Field:
    field: str          # canonical name, or "title"
    alias: str
    value: str          # as written
    meaning: str        # what it means (a year: "2021")


@dataclass(frozen=True)
class Dates:
    start: tuple[int, ...] | None
    end: tuple[int, ...] | None
    written: str
    name: str = "date"     # or a year filter's alias: year:2019..2021


@dataclass(frozen=True)
class Neg:
    child: object
    style: str


@dataclass(frozen=True)
class All:
    children: tuple
    joiner: str


@dataclass(frozen=True)
class Any_:
    children: tuple
    joiner: str = " OR "   # " OR ", " or ", " || "
    bare: bool = False     # AND children written without parentheses: `a b OR c` (AND binds tighter)


def text_matches(value: str, doc_text: str) -> bool:
    parts = [p for p in re.split(r"[\s\W_]+", normalize(value)) if p]
    return bool(parts) and re.search(r"[\W_]*".join(map(re.escape, parts)), doc_text) is not None


def in_range(date: tuple[int, ...], start: tuple | None, end: tuple | None) -> bool:
    """A case's date (a day, a month or a year) is a period: it is in a range it overlaps,
    both compared at the coarser precision (2021-10 is in 2021-10-05..2021-10-20). An
    undated case is in no range."""
    if not date:
        return False
    low = start is None or date[:len(start)] >= start[:len(date)]
    return low and (end is None or date[:len(end)] <= end[:len(date)])


def holds(node: object, doc: Doc) -> bool:
    """The oracle: the meaning of a query tree for one case, by brute force."""
    if isinstance(node, Word | Phrase):
        return text_matches(node.value, doc.text)
    if isinstance(node, Field):
        if node.field == "title":
            return text_matches(node.value, doc.title)
        values = doc.fields[node.field]
        if BY_NAME[node.field].match == "year":
            return node.meaning in values
        wanted = "".join(normalize(node.meaning).split())      # spaces in a value do not count
        return any(v == node.meaning or (wanted and wanted in "".join(normalize(v).split())) for v in values)
    if isinstance(node, Dates):
        return in_range(doc.date, node.start, node.end)
    if isinstance(node, Neg):
        return not holds(node.child, doc)
    if isinstance(node, All):
        return all(holds(c, doc) for c in node.children)
    if isinstance(node, Any_):
        return any(holds(c, doc) for c in node.children)
    raise TypeError(node)


def render(node: object) -> str:
    if isinstance(node, Word):
        return node.value
    if isinstance(node, Phrase):
        return f'"{node.value}"'
    if isinstance(node, Field):
        value = f'"{node.value}"' if re.search(r'[\s()"]', node.value) else node.value
        return f"{node.alias}:{value}"
    if isinstance(node, Dates):
        return f"{node.name}:{node.written}"
    if isinstance(node, Neg):
        return f"{node.style}{group(node.child)}"
    if isinstance(node, All):
        return node.joiner.join(group(c) for c in node.children)
    if isinstance(node, Any_):
        return node.joiner.join(render(c) if node.bare and isinstance(c, All) else group(c) for c in node.children)
    raise TypeError(node)


def group(node: object) -> str:
    return f"({render(node)})" if isinstance(node, All | Any_) else render(node)


def top_clauses(node: object | None) -> list[object]:
    if node is None:
        return []
    if isinstance(node, All):
        return [c for child in node.children for c in top_clauses(child)]
    return [node]


def facet_of(node: object) -> str | None:
    if isinstance(node, Field) and node.field != "title":
        return node.field
    return "year" if isinstance(node, Dates) else None


def oracle_answer(docs: list[Doc], clauses: list[object]) -> tuple[set[str], dict[str, list[dict]]]:
    """The matching slugs and the facet counts (a facet ignores the top-level clauses on
    itself; values by count then value, years newest first)."""
    matched = {d.slug for d in docs if all(holds(c, d) for c in clauses)}
    facets: dict[str, list[dict]] = {}
    for name in FACET_FIELDS:
        kept = [c for c in clauses if facet_of(c) != name]
        counts: dict[str, int] = {}
        for doc in docs:
            if all(holds(c, doc) for c in kept):
                for value in set(doc.fields[name]):
                    counts[value] = counts.get(value, 0) + 1
        ordered = sorted(counts.items(), reverse=True) if name == "year" else \
            sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:FACET_VALUES]
        facets[name] = [{"value": v, "count": c} for v, c in ordered]
    return matched, facets


# --- strategies ------------------------------------------------------------------------------

FULL_WIDTH = {c: chr(ord(c) + 0xFEE0) for c in "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"}
OPERATOR_WORDS = {"and", "or", "not"}
FULL_WIDTH_SYNTAX = str.maketrans("():", "（）：")
CJK_PAIR = re.compile(r"[\u4e00-\u9fff]{2}")


def vocabulary(docs: list) -> dict[str, list[str]]:
    rng = random.Random(7)
    texts = [f"{d.title}\n{d.text}" for d in docs]
    fragments, singles, latin = set(), set(), set()
    while len(fragments) < 240:
        text = rng.choice(texts)
        runs = re.findall(r"[\u4e00-\u9fff]{2,}", text)
        if runs:
            run = rng.choice(runs)
            start = rng.randrange(len(run) - 1)
            fragments.add(run[start:start + rng.randint(2, 5)])
            singles.add(rng.choice(run))
    for text in texts:
        latin.update(w for w in re.findall(r"[A-Za-z0-9]{2,8}", text) if w.lower() not in OPERATOR_WORDS)
    # Words by how many cases hold them: the most widespread bigrams and characters (in
    # about half of the cases, 的 in nearly all), and the domain's own words.
    bigram_df: Counter[str] = Counter()
    char_df: Counter[str] = Counter()
    for text in texts:
        bigram_df.update({text[i:i + 2] for i in range(len(text) - 1) if CJK_PAIR.fullmatch(text[i:i + 2])})
        char_df.update({c for c in text if "\u4e00" <= c <= "\u9fff"})
    common = [w for w, _ in bigram_df.most_common(12)] + [c for c, _ in char_df.most_common(6)]
    s2t = opencc.OpenCC("s2t")
    fragments_list = sorted(fragments)
    traditional = [t for t in (s2t.convert(f) for f in fragments_list) if t not in fragments]
    latin_list = sorted(latin)[:80]
    return {
        "common": [*common, "银行", "社区", "服务", "金融", "居民", "网点", "网格", "作者", "来源"],
        "fragments": fragments_list,
        "singles": sorted(singles)[:60],
        "traditional": traditional or ["銀行"],
        "full_width": ["".join(FULL_WIDTH.get(c, c) for c in w) for w in latin_list] or ["１５分钟"],
        "latin": latin_list or ["15"],
        "absent": ["白居易诗集", "量子纠缠", "不存在的词语", "xyzzyq"],
        # Runs joined by punctuation: the runs must be adjacent but for punctuation (the
        # bigram `区_` of `社区_银行` is in no text; looking it up lost every match).
        "joined": [f"{f[:2]}{sep}{f[2:]}" for f, sep in zip((f for f in fragments_list if len(f) >= 4),
                                                              cycle("_-·/."), strict=False)]
        + ["社区_银行", "网点-社区", "银行·服务"],
    }


def date_text(parts: tuple[int, ...], rng_choice: int) -> str:
    y, *rest = parts
    if not rest:
        forms = [f"{y}", f"{y}年"]
    elif len(rest) == 1:
        m = rest[0]
        forms = [f"{y}-{m}", f"{y}-{m:02d}", f"{y}/{m}", f"{y}年{m}月"]
    else:
        m, d = rest
        forms = [f"{y}-{m}-{d}", f"{y}-{m:02d}-{d:02d}", f"{y}/{m}/{d}", f"{y}年{m}月{d}日"]
    text = forms[rng_choice % len(forms)]
    if rng_choice % 7 == 3:
        text = "".join(FULL_WIDTH.get(c, c) for c in text)
    return text


@st.composite
def date_bound(draw) -> tuple[int, ...]:
    year = draw(st.integers(2009, 2026))
    precision = draw(st.integers(1, 3))
    month, day = draw(st.integers(1, 12)), draw(st.integers(1, 28))
    return (year, month, day)[:precision]


@st.composite
def date_range(draw) -> tuple[tuple | None, tuple | None, str]:
    start, end = draw(date_bound()), draw(date_bound())
    common = min(len(start), len(end))
    if start[:common] > end[:common]:
        start, end = end, start
    shape = draw(st.sampled_from(["both", "both", "single", "open_start", "open_end"]))
    separator = draw(st.sampled_from(["..", "..", "~", "至", "到"]))
    style = draw(st.integers(0, 20))
    if shape == "single":
        return start, start, date_text(start, style)
    if shape == "open_start":
        return None, end, f"..{date_text(end, style)}"
    if shape == "open_end":
        return start, None, f"{date_text(start, style)}.."
    return start, end, f"{date_text(start, style)}{separator}{date_text(end, style + 1)}"


def field_values(docs: list[Doc]) -> dict[str, list[str]]:
    values: dict[str, set[str]] = {f.name: set() for f in FILTERS}
    for doc in docs:
        for name, items in doc.fields.items():
            values[name].update(items)
    return {name: sorted(items) for name, items in values.items()}


def strategies(docs: list[Doc], words: dict[str, list[str]]):
    values = field_values(docs)
    word = st.one_of(*(st.sampled_from(words[k]) for k in
                       ("common", "fragments", "fragments", "singles", "traditional", "full_width", "latin",
                        "absent", "joined"))).map(Word)
    word = st.one_of(word, word, word, word.map(lambda w: Word(f"+{w.value}")))   # `+term` is the term
    phrase = st.one_of(
        st.sampled_from(words["fragments"] + words["common"]).map(Phrase),
        st.tuples(st.sampled_from(words["fragments"]), st.sampled_from(words["common"] + words["fragments"]))
        .map(lambda pair: Phrase(f"{pair[0]} {pair[1]}")))

    @st.composite
    def field_filter(draw) -> Field | Dates:
        spec = draw(st.sampled_from([f for f in FILTERS if values[f.name]] + ["title"]))
        if spec == "title":
            alias = draw(st.sampled_from(QUERY_FIELDS["title"]))
            value = draw(st.sampled_from(words["fragments"] + words["common"]))
            return Field("title", alias, value, value)
        alias = draw(st.sampled_from(spec.aliases))
        value = draw(st.sampled_from(values[spec.name]))
        if spec.match == "year":
            if draw(st.integers(0, 3)) == 0:   # a range of years: year:2015..2018, 年份:2015年至今
                low, high = sorted(int(draw(st.sampled_from(values[spec.name]))) for _ in range(2))
                shape = draw(st.sampled_from([(low, high, f"{low}..{high}"), (low, high, f"{low}-{high}"),
                                              (low, None, f"{low}年至今"), (None, high, f"..{high}")]))
                start, end = ((shape[0],) if shape[0] else None), ((shape[1],) if shape[1] else None)
                return Dates(start, end, shape[2], alias)
            return Field(spec.name, alias, draw(st.sampled_from([value, f"{value}年"])), value)
        if len(value) > 2 and draw(st.booleans()):
            value = value[:2]          # part of a value: 上海 finds 上海市
        if len(value) > 2 and draw(st.integers(0, 5)) == 0:
            value = f"{value[:2]} {value[2:]}"   # a space inside: bank:"中国 工商银行" (rendered quoted)
        return Field(spec.name, alias, value, value)

    dates = date_range().map(lambda r: Dates(r[0], r[1], r[2]))
    leaf = st.one_of(word, word, word, phrase, field_filter(), dates)

    def extend(children):
        return st.one_of(
            # Operators in upper and lower case and as symbols (all operators: README, Search).
            st.tuples(children, st.sampled_from(["-", "NOT ", "not "])).map(lambda t: Neg(t[0], t[1])),
            st.tuples(st.lists(children, min_size=2, max_size=4).map(tuple),
                      st.sampled_from([" ", " AND ", " and ", " && "])).map(lambda t: All(t[0], t[1])),
            st.tuples(st.lists(children, min_size=2, max_size=4).map(tuple), st.sampled_from([" OR ", " or ", " || "]),
                      st.booleans()).map(lambda t: Any_(*t)),
        )

    tree = st.recursive(leaf, extend, max_leaves=10)

    @st.composite
    def api_filters(draw) -> dict[str, list[str]]:
        chosen = draw(st.lists(st.sampled_from([f for f in FACET_FIELDS if values[f]]), max_size=2, unique=True))
        return {name: [draw(st.sampled_from(values[name]))] for name in chosen}

    @st.composite
    def api_dates(draw) -> dict[str, str]:
        kind = draw(st.sampled_from(["none", "none", "date", "from_to"]))
        if kind == "none":
            return {}
        start, end, written = draw(date_range())
        if kind == "date":
            return {"date": written}
        style = draw(st.integers(0, 20))
        out = {}
        if start:
            out["from"] = date_text(start, style)
        if end:
            out["to"] = date_text(end, style + 2)
        return out

    return tree, api_filters(), api_dates()


def api_date_clause(params: dict[str, str]) -> Dates | None:
    if not params:
        return None
    if "date" in params:
        from search.dates import split_range

        start_text, end_text, ranged = split_range(params["date"])
        start, end = (bound(start_text) if start_text else None), (bound(end_text) if end_text else None)
        return Dates(start, end if ranged else start, "")
    return Dates(bound(params["from"]) if "from" in params else None,
                 bound(params["to"]) if "to" in params else None, "")


def bound(text: str) -> tuple[int, ...]:
    """The oracle's own reading of the generated date forms (digits in written order)."""
    import unicodedata

    return tuple(int(n) for n in re.findall(r"[0-9]+", unicodedata.normalize("NFKC", text)))


# --- the two systems under test ----------------------------------------------------------------

@pytest.fixture(scope="module")
def world(tmp_path_factory):
    from search.indexer import build_index

    docs = corpus()
    folder = tmp_path_factory.mktemp("oracle")
    build_index(docs, folder / "index", procs=1)
    (folder / "site").mkdir()
    process, base = start_server(folder / "site", folder / "index")
    odocs = oracle_docs(docs)
    yield {"docs": odocs, "words": vocabulary(docs), "engine": SearchEngine(folder / "index", cache_size=64),
           "server": base, "client": httpx.Client(base_url=base, timeout=30), "index": folder / "index"}
    stop_server(process)


def all_pages_in_process(engine: SearchEngine, request: SearchRequest) -> tuple[list[str], int, dict, str | None]:
    slugs: list[str] = []
    page, facets, total, notice = 1, {}, 0, None
    while True:
        response = engine.search(dataclasses.replace(request, page=page))
        if page == 1:
            facets, total, notice = response.facets, response.total, response.notice
        assert response.total == total, "the total changed between pages"
        slugs += [r["slug"] for r in response.results]
        if page * request.page_size >= total:
            return slugs, total, facets, notice
        page += 1


def all_pages_over_http(client: httpx.Client, params: list[tuple[str, str]], page_size: int) -> tuple[
        list[str], int, dict, str | None]:
    slugs: list[str] = []
    page, facets, total, notice = 1, {}, 0, None
    while True:
        reply = client.get("/api/search", params=[*params, ("limit", str(page_size)), ("page", str(page))])
        assert reply.status_code == 200, reply.text
        body = reply.json()
        if page == 1:
            facets, total, notice = body["facets"], body["total"], body["notice"]
        assert body["total"] == total, "the total changed between pages"
        slugs += [r["slug"] for r in body["results"]]
        if page * page_size >= total:
            return slugs, total, facets, notice
        page += 1


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_random_queries_match_the_brute_force_oracle(world, data):
    docs, words = world["docs"], world["words"]
    tree_st, filters_st, dates_st = strategies(docs, words)
    tree = data.draw(st.none() | tree_st, label="tree")
    filters = data.draw(filters_st, label="filters")
    date_params = data.draw(dates_st, label="dates")
    sort = data.draw(st.sampled_from(["relevance", "date", "date_asc"]), label="sort")
    page_size = data.draw(st.sampled_from([3, 10, 25, 100]), label="page_size")
    query = render(tree) if tree is not None else ""
    if data.draw(st.integers(0, 7), label="full-width syntax") == 0:
        query = query.translate(FULL_WIDTH_SYNTAX)   # （…） and ：, as Chinese keyboards type them
    clauses = top_clauses(tree) + [Field(n, n, v, v) for n, vs in filters.items() for v in vs]
    date_clause = api_date_clause(date_params)
    if date_clause is not None:
        clauses.append(date_clause)
    expected, expected_facets = oracle_answer(docs, clauses)

    request = SearchRequest(q=query, filters=filters, sort=sort, page_size=page_size, date=date_params.get("date", ""),
                            date_from=date_params.get("from", ""), date_to=date_params.get("to", ""))
    params = [("q", query), ("sort", sort), *date_params.items()]
    params += [(BY_NAME[n].param, v) for n, vs in filters.items() for v in vs]
    order = data.draw(st.permutations(["in-process", "server"]), label="order")
    for system in order:
        if system == "in-process":
            slugs, total, facets, notice = all_pages_in_process(world["engine"], request)
        else:
            slugs, total, facets, notice = all_pages_over_http(world["client"], params, page_size)
        assert notice is None, (system, query, notice)
        assert len(slugs) == len(set(slugs)), (system, query, "a case on two pages")
        assert set(slugs) == expected, (system, query, sorted(set(slugs) ^ expected))
        assert total == len(expected), (system, query)
        assert facets == expected_facets, (system, query)
        if sort != "relevance":
            by_slug = {d.slug: d for d in docs}
            keys = [by_slug[s].date for s in slugs]
            assert keys == sorted(keys, reverse=(sort == "date")), (system, query, sort)


# --- the cases that were wrong, by name ---------------------------------------------------------

def test_reported_boolean_queries_are_answered_exactly(world):
    engine, docs = world["engine"], world["docs"]

    def found(q: str) -> set[str]:
        return set(_slugs(engine, q))

    bank, community, grid, finance = (Word("银行"), Word("社区"), Word("网格"), Word("金融"))
    author, source = Word("作者"), Word("来源")
    cases = {
        "(银行 -社区) OR 银行": Any_((All((bank, Neg(community, "-")), " "), bank)),
        "(网格 -金融) OR (金融 -网格)": Any_((All((grid, Neg(finance, "-")), " "), All((finance, Neg(grid, "-")), " "))),
        "作者 NOT ((作者 NOT 来源) 来源)": All((author, Neg(All((All((author, Neg(source, "NOT ")), " "), source), " "),
                                                              "NOT ")), " "),
        "银行 OR (银行 -社区)": Any_((bank, All((bank, Neg(community, "-")), " "))),
    }
    for query, tree in cases.items():
        expected = {d.slug for d in docs if holds(tree, d)}
        assert found(query) == expected, query
    assert found("(银行 -社区) OR 银行") == found("银行") and len(found("银行")) > 10
    both = found("网格 金融")
    assert both and not both & found("(网格 -金融) OR (金融 -网格)")
    # The same queries again, after others: no answer depends on what was asked before.
    assert found("(银行 -社区) OR 银行") == found("银行")


def _slugs(engine: SearchEngine, q: str, **kw) -> list[str]:
    slugs: list[str] = []
    page = 1
    while True:
        response = engine.search(SearchRequest(q=q, page=page, page_size=100, facets=False, **kw))
        slugs += [r["slug"] for r in response.results]
        if page * 100 >= response.total:
            return slugs
        page += 1


@pytest.mark.parametrize("written, start, end", [
    ("2021", (2021,), (2021,)), ("2021年", (2021,), (2021,)), ("2021-3", (2021, 3), (2021, 3)),
    ("2021-03", (2021, 3), (2021, 3)), ("2021年3月", (2021, 3), (2021, 3)), ("2021/3", (2021, 3), (2021, 3)),
    ("2021-3-5", (2021, 3, 5), (2021, 3, 5)), ("2021年3月5日", (2021, 3, 5), (2021, 3, 5)),
    ("2021-3..2021-6", (2021, 3), (2021, 6)), ("2021-03..2021-06", (2021, 3), (2021, 6)),
    ("..2021-06", None, (2021, 6)), ("2021..", (2021,), None), ("２０２１年３月..２０２２年", (2021, 3), (2022,)),
    ("2015年3月至2019年6月", (2015, 3), (2019, 6)), ("2012~2014-2", (2012,), (2014, 2)),
    ("2012-2014", (2012,), (2014,)), ("2015年3月-2019年6月", (2015, 3), (2019, 6)), ("2019至今", (2019,), None),
    ("2012-12", (2012, 12), (2012, 12)), ("2013/3/1..2016/02/29", (2013, 3, 1), (2016, 2, 29)),
])
def test_dates_as_people_write_them(world, written, start, end):
    engine, docs = world["engine"], world["docs"]
    expected = {d.slug for d in docs if in_range(d.date, start, end)}
    assert set(_slugs(engine, f"date:{written}")) == expected, written
    assert set(_slugs(engine, "", date=written)) == expected, written
    reply = world["client"].get("/api/search", params={"date": written, "limit": "100"})
    assert {r["slug"] for r in reply.json()["results"]} == expected


def test_ranges_written_with_spaces_and_words_without_text(world):
    """`date:2015年3月 至 2019年6月` is one range; a term of punctuation alone (`...`) is
    ignored rather than emptying the answer."""
    engine, docs = world["engine"], world["docs"]
    expected = {d.slug for d in docs if in_range(d.date, (2015, 3), (2019, 6))}
    for query in ("date:2015年3月 至 2019年6月", "date:2015-3 .. 2019-6", "date:2015-3 ~2019-6"):
        assert set(_slugs(engine, query)) == expected, query
    bank = set(_slugs(engine, "银行"))
    assert set(_slugs(engine, "银行 ...")) == bank == set(_slugs(engine, "银行 OR !!")) == set(_slugs(engine, "银行 -…"))
    response = engine.search(SearchRequest(q="... !!"))
    assert response.notice and response.total == len(docs)


def test_dates_with_records_in_range_are_found(world):
    """The report's date:2021-3..2021-6 matched nothing (bounds compared unpadded): a range
    around dates the corpus holds finds them."""
    engine, docs = world["engine"], world["docs"]
    months = sorted({d.date[:2] for d in docs if len(d.date) >= 2})
    year, month = months[len(months) // 2]
    expected = {d.slug for d in docs if d.date[:2] == (year, month)}
    assert expected
    assert set(_slugs(engine, f"date:{year}-{month}..{year}-{month}")) == expected
    assert set(_slugs(engine, f"date:{year}年{month}月")) == expected


@pytest.mark.parametrize("written, says", [
    ("2021-13", "月份"), ("2021-2-30", "日应在"), ("2022..2021", "起点晚于终点"), ("2021-6..2021-3", "起点晚于终点"),
    ("21-3", "无法识别"), ("2021.3.5", "无法识别"), ("..", "两端都没有日期"), ("昨天", "无法识别"),
])
def test_bad_dates_are_errors_with_a_message_never_an_empty_answer(world, written, says):
    with pytest.raises(QueryError, match=says):
        world["engine"].search(SearchRequest(q=f"银行 date:{written}"))
    for params in ({"q": f"银行 date:{written}"}, {"q": "银行", "date": written}):
        reply = world["client"].get("/api/search", params=params)
        assert reply.status_code == 400 and says in reply.json()["error"], (params, reply.text)
    page = world["client"].get("/search/", params={"q": f"date:{written}"})
    assert page.status_code == 400 and says in page.text
    reply = world["client"].get("/api/search", params={"from": "2023", "to": "2021"})
    assert reply.status_code == 400 and "起点晚于终点" in reply.json()["error"]


def test_cached_structures_cannot_be_changed_by_a_query(world):
    """Correct by construction: what a snapshot holds is immutable."""
    snap = world["engine"].snapshot()
    docs = snap.gram_docs("银行")
    assert isinstance(docs, frozenset) and isinstance(snap.all, frozenset)
    with pytest.raises(AttributeError):
        docs.difference_update({0})  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        snap.postings["banks"]["x"] = frozenset()  # type: ignore[index]
    scores, _present = snap.term_scores("words", "银行")
    with pytest.raises(ValueError):
        scores[0] = 1.0
    with pytest.raises(ValueError):
        snap.date_rank[0] = 0


def test_terms_joined_by_punctuation_find_adjacent_text(world):
    """`社区_银行` means 社区 and 银行 adjacent but for punctuation: found where the text has
    社区银行 (the bigram `区_` is in no text; looking it up used to lose every match)."""
    engine, docs = world["engine"], world["docs"]
    for query in ("乌鲁_木齐", "乌鲁-木齐", "乌鲁·木齐", "举报/疫情"):
        expected = {d.slug for d in docs if text_matches(query, d.text)}
        assert expected and set(_slugs(engine, query)) == expected, query


def test_undated_and_coarse_dates_against_day_ranges(world):
    """An undated case is in no date range (it sorted first and `..2021` took it in) and has
    no year facet (it showed a year ""); a case dated only to a month or a year is in a day
    range it overlaps, from either end (`2021-10-05..` lost a case dated 2021-10)."""
    engine, docs = world["engine"], world["docs"]
    undated = {d.slug for d in docs if not d.date}
    coarse = [d for d in docs if 1 <= len(d.date) <= 2]
    assert undated and coarse
    for doc in coarse[:8]:
        y, m = (*doc.date, 6)[:2]
        for written, start, end in ((f"{y}-{m}-05..{y}-{m}-20", (y, m, 5), (y, m, 20)), (f"{y}-{m}-05..", (y, m, 5), None),
                                    (f"..{y}-{m}-20", None, (y, m, 20)), (f"{y}-{m}-05", (y, m, 5), (y, m, 5))):
            found = set(_slugs(engine, f"date:{written}"))
            assert doc.slug in found, written
            assert found == {d.slug for d in docs if in_range(d.date, start, end)}, written
            assert not found & undated, written
    response = engine.search(SearchRequest(q="", page_size=1))
    assert "" not in {f["value"] for f in response.facets["year"]}
    assert sum(f["count"] for f in response.facets["year"]) == len(docs) - len(undated)


@pytest.mark.parametrize("written, start, end", [
    ("2015..2018", (2015,), (2018,)), ("2015-2018", (2015,), (2018,)), ("2015年..2018年", (2015,), (2018,)),
    ("2019至今", (2019,), None), ("..2012", None, (2012,)), ("２０１５~２０１８", (2015,), (2018,)),
])
def test_year_filter_takes_a_range_of_years(world, written, start, end):
    engine, docs = world["engine"], world["docs"]
    expected = {d.slug for d in docs if in_range(d.date, start, end)}
    assert expected
    assert set(_slugs(engine, f"year:{written}")) == expected == set(_slugs(engine, "", filters={"year": [written]}))
    reply = world["client"].get("/api/search", params={"year": written, "limit": "100"})
    assert reply.status_code == 200 and {r["slug"] for r in reply.json()["results"]} == expected
    # The year facet ignores a year range ANDed at the top, as it ignores year:2021.
    assert engine.search(SearchRequest(q=f"year:{written}")).facets["year"] == \
        engine.search(SearchRequest(q="")).facets["year"]


@pytest.mark.parametrize("written", ["2021-3..2021-5", "2022..2021", "2021-13"])
def test_year_filter_rejects_months_and_inverted_ranges(world, written):
    with pytest.raises(QueryError):
        world["engine"].search(SearchRequest(q=f"year:{written}"))
    assert world["client"].get("/api/search", params={"year": written}).status_code == 400


@pytest.mark.parametrize("query, same_as", [
    ("银行 社区 OR 网点", "(银行 社区) OR 网点"), ("网点 OR 银行 社区", "网点 OR (银行 社区)"),
    ("-银行 OR 社区", "(-银行) OR 社区"), ("NOT 银行 社区", "(NOT 银行) 社区"), ("银行 and 社区", "银行 社区"),
    ("银行 or 社区", "银行 OR 社区"), ("not 银行", "-银行"), ("+银行", "银行"), ("銀行", "银行"),
    ("-bank:工商 OR province:四川", "(NOT bank:工商) OR 省份:四川"), ('bank:"中国 工商银行"', "bank:中国工商银行"),
    ('bank:“工商 银行”', "bank:工商银行"),
    ("（银行 OR 社区） 网点", "(银行 OR 社区) 网点"), ("－银行 社区", "-银行 社区"), ("ｂａｎｋ：工商", "bank:工商"),
    ("银行\u3000ＯＲ\u3000社区", "银行 OR 社区"), ("bank:工商 bank:招商", "bank:工商 AND bank:招商"),
])
def test_precedence_and_operator_spellings(world, query, same_as):
    engine = world["engine"]
    assert set(_slugs(engine, query)) == set(_slugs(engine, same_as))
    assert engine.search(SearchRequest(q=query)).notice is None


def test_empty_parentheses_say_so(world):
    response = world["engine"].search(SearchRequest(q="银行 ()"))
    assert response.notice and "empty parentheses" in response.notice
    assert response.total == len(_slugs(world["engine"], "银行"))


def test_export_holds_exactly_every_page(world):
    """CSV and JSON exports hold the whole result set, in the order of the pages, for every sort."""
    import csv
    import io
    import json

    client = world["client"]
    for sort in ("relevance", "date", "date_asc"):
        params = {"q": "银行 OR 社区 -量子纠缠", "sort": sort}
        paged, total, _facets, _notice = all_pages_over_http(client, list(params.items()), 7)
        as_json = json.loads(client.get("/api/export", params={**params, "format": "json"}).text)
        rows = as_json if isinstance(as_json, list) else as_json["results"]
        csv_text = client.get("/api/export", params={**params, "format": "csv"}).text.lstrip("\ufeff")  # BOM for Excel
        as_csv = list(csv.DictReader(io.StringIO(csv_text)))
        assert total == len(paged) == len(rows) == len(as_csv) > 10
        assert [r["slug"] for r in rows] == paged == [r["slug"] for r in as_csv], sort


def test_answers_follow_a_rebuild_under_a_running_server(tmp_path):
    """State between generations: after an incremental build swaps CURRENT under a running
    server (and a cached in-process engine), every answer — totals, pages, facet counts —
    is the new corpus's oracle answer, for queries asked before the swap too."""
    import time

    from search.indexer import build_index

    docs = corpus()
    before = docs[:40]
    changed = [dataclasses.replace(before[5], text=before[5].text + "\n量子纠缠", date=""),   # now undated
               dataclasses.replace(before[6], date="2019-07", banks=["招商银行"], province="浙江省")]
    after = [d for d in before[:30] if d.slug not in {before[5].slug, before[6].slug}] + changed + docs[40:50]
    index = tmp_path / "index"
    build_index(before, index, procs=1)
    (tmp_path / "site").mkdir()
    process, base = start_server(tmp_path / "site", index)
    engine = SearchEngine(index, cache_size=64)
    queries = ["银行", "量子纠缠", "银行 -社区", "date:..2019-07-15", "bank:招商 OR 浙江", "year:2019", ""]
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for state in (before, after):
                if state is after:
                    build_index(after, index, procs=1)
                    time.sleep(0.6)                    # the engines look for a new generation
                odocs = oracle_docs(state)
                for query in queries:
                    tree = querylang_tree(query)
                    expected, expected_facets = oracle_answer(odocs, top_clauses(tree))
                    request = SearchRequest(q=query, page_size=25)
                    for slugs, total, facets, _ in (all_pages_in_process(engine, request),
                                                    all_pages_over_http(client, [("q", query)], 25)):
                        assert set(slugs) == expected and total == len(expected), (query, len(state))
                        assert facets == expected_facets, query
    finally:
        stop_server(process)


def querylang_tree(query: str) -> object | None:
    """The oracle's tree of the few fixed queries of the state test."""
    trees = {
        "银行": Word("银行"), "量子纠缠": Word("量子纠缠"), "银行 -社区": All((Word("银行"), Neg(Word("社区"), "-")), " "),
        "date:..2019-07-15": Dates(None, (2019, 7, 15), ""), "year:2019": Field("year", "year", "2019", "2019"),
        "bank:招商 OR 浙江": Any_((Field("banks", "bank", "招商", "招商"), Word("浙江"))), "": None,
    }
    return trees[query]


@pytest.mark.parametrize("query, start, end", [
    ("date:2015 ..", (2015,), None), ("date:.. 2015", None, (2015,)), ("date:2015.. 2019", (2015,), (2019,)),
    ("date:至 2015年6月", None, (2015, 6)), ("(date:2015 ..) OR date:2011", (2015,), None),
    ("date:2015 至今", (2015,), None), ("date:2015 到 ２０１９年", (2015,), (2019,)),
])
def test_ranges_with_a_spaced_separator_at_either_end(world, query, start, end):
    """`date:2015 ..` meant 2015 alone (the `..` was a term without words, dropped), and
    `date:.. 2015` was an error: a separator written apart belongs to the range."""
    engine, docs = world["engine"], world["docs"]
    expected = {d.slug for d in docs if in_range(d.date, start, end) or ("2011" in query and in_range(d.date, (2011,), (2011,)))}
    assert set(_slugs(engine, query)) == expected, query
    assert engine.search(SearchRequest(q=query)).notice is None
