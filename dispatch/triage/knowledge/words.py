"""How the knowledge base reads text: jieba search-mode tokens without stop words, and a
caller's question weighed (key nouns double, the words of asking nothing, a few colloquial
words bringing the service's own word along)."""

from __future__ import annotations

import unicodedata

from dispatch.triage.segmenter import segmenter, tagger

# Words that say nothing about which answer is wanted.
STOPWORDS = frozenset(
    "的 了 吗 呢 吧 啊 呀 是 在 有 和 与 及 或 我 你 他 她 我们 你们 请问 请 问 想 要 想要 能 能否 "
    "可以 怎么 怎样 怎么样 如何 什么 哪里 哪些 哪个 多少 一下 这个 那个 这 那 就 都 也 还 "
    "需要 应该 是否 吗 么 个 为 对 把 被 给 让 从 到 去 来 上 下 中 等 该".split())



# How a question is asked, not what it is about: dropped from queries (articles keep them).
QUESTION_WORDS = frozenset(
    "怎么办 怎么弄 怎么搞 怎么整 咋办 咋弄 咋整 咋 啥 哪 哪儿 在哪 在哪里 去哪 去哪里 哪领 哪开 "
    "时候 什么时候 多久 办法 一下 了 吗 呢 啊 吧 能 能不能 可不可以 行不行".split())
# What citizens say when they mean a service's own words (added at a lower weight).
EXPANSIONS: dict[str, tuple[str, ...]] = {
    "丢": ("补办", "补领", "补换", "挂失"), "丢失": ("补办", "补领", "补换", "挂失"),
    "遗失": ("补办", "补领", "补换", "挂失"), "掉": ("补办", "补领", "挂失"),
    "坏": ("故障",), "坏了": ("故障",), "取": ("提取",), "取出": ("提取",),
    "补贴": ("津贴",), "津贴": ("补贴",), "领": ("申领", "领取"), "看病": ("就医",),
}
# Nouns of what any errand needs, never what the question is about: they count as plain words.
GENERIC_NOUNS = frozenset(
    "材料 手续 流程 条件 方式 办理 问题 事情 事儿 情况 地方 时间 部门 电话 东西 政策 规定 "
    "标准 要求 费用 资料 证件 服务 业务 窗口 地址 网上".split())
NOUN_WEIGHT, WORD_WEIGHT, MINOR_WEIGHT, EXPANSION_WEIGHT = 2.0, 1.0, 0.5, 0.6
# The bonus for an article whose title holds the query's key nouns (all of them: +TITLE_COVER
# times the query's best single-term score).
TITLE_COVER = 1.5


def query_weights(query: str) -> dict[str, float]:
    """The query's search tokens with how much each counts: key nouns double, the words of
    asking nothing, pronouns and particles half, expansions a little."""
    value = unicodedata.normalize("NFKC", query).lower()
    out: dict[str, float] = {}

    def add(token: str, weight: float) -> None:
        if token and token not in STOPWORDS and token not in QUESTION_WORDS \
                and any(ch.isalnum() for ch in token):
            out[token] = max(out.get(token, 0.0), weight)

    for pair in tagger().cut(value):
        word, flag = pair.word.strip(), pair.flag
        if not word or word in QUESTION_WORDS:
            continue
        noun = flag.startswith("n") or flag in ("vn", "j")  # j: an abbreviation (医保)
        if noun and len(word) >= 2 and word not in GENERIC_NOUNS:
            weight = NOUN_WEIGHT  # a single character (水, 人) is too vague to be key
        elif noun or flag[:1] in ("v", "a", "m", "q", "s", "f", "t", "l", "x", "e"):
            weight = WORD_WEIGHT
        else:
            weight = MINOR_WEIGHT
        for piece in [word, *tokens(word)]:
            add(piece, weight)
        for extra in EXPANSIONS.get(word, ()):
            add(extra, EXPANSION_WEIGHT)
    return out


def tokens(value: str) -> list[str]:
    """Search-mode jieba tokens of a text: lower-cased, without punctuation and stop words."""
    value = unicodedata.normalize("NFKC", value).lower()
    out = []
    for token in segmenter().cut_for_search(value):
        token = token.strip()
        if token and token not in STOPWORDS and any(ch.isalnum() for ch in token):
            out.append(token)
    return out
