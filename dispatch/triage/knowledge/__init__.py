"""The knowledge base (知识库): versioned answers kept by departments, searched by operators.

An article keeps every version it ever had: a direct answer points at the version it gave, so
old versions stay readable forever. Search segments Chinese text with jieba (search mode) and
ranks the current, valid versions with BM25F (title weighted above body), computed in Python
over an index cached per database revision.

A caller's question is not weighed word for word: the words of how it is asked (怎么办, 在哪,
什么时候) count for nothing, its key nouns (社保卡, 身份证, 公积金) count double, and a few
colloquial words bring the service's own word along (丢了 → 补办/补领/挂失, 坏了 → 故障); an
article whose title holds the key nouns gets a bonus in proportion, so "社保卡丢了怎么补办" finds
社保卡申领、补换及挂失 first, not an article that merely shares "怎么办" or "补办".

Only published versions are searched: a department's editor (a handler) writes drafts, the
hotline office (an admin) publishes or rejects them; an admin's own versions are published at
once.

The package: `tables` (articles and their versions), `words` (tokens and query weights),
`articles` (writing, reviewing, the demo data), `reading` (one version as a view, the version an
answer gives), `catalog` (the admin page's list, expiry warnings and version diffs) and
`ranking` (search).
"""

from dispatch.triage.knowledge.articles import (
    DEMO_FILE,
    ArticleIn,
    create_article,
    load_demo_knowledge,
    publish_version,
    reject_version,
    retire_article,
    revise_article,
)
from dispatch.triage.knowledge.catalog import (
    EXPIRY_DAYS,
    LIST_STATUSES,
    ArticleFilter,
    diff_versions,
    expiring_articles,
    list_articles,
    word_diff,
)
from dispatch.triage.knowledge.ranking import FIELDS, K1, SNIPPET, Hit, search
from dispatch.triage.knowledge.reading import (
    STATUS_NAMES,
    ArticleView,
    answer_version,
    get_article,
    local_date,
)
from dispatch.triage.knowledge.tables import (
    DRAFT,
    MAX_BODY,
    MAX_TITLE,
    PUBLISHED,
    REJECTED,
    SUPERSEDED,
    Article,
    ArticleVersion,
)
from dispatch.triage.knowledge.words import (
    EXPANSION_WEIGHT,
    EXPANSIONS,
    GENERIC_NOUNS,
    MINOR_WEIGHT,
    NOUN_WEIGHT,
    QUESTION_WORDS,
    STOPWORDS,
    TITLE_COVER,
    WORD_WEIGHT,
    query_weights,
    tokens,
)

__all__ = [
    "DEMO_FILE", "DRAFT", "EXPANSIONS", "EXPANSION_WEIGHT", "EXPIRY_DAYS", "FIELDS",
    "GENERIC_NOUNS", "K1", "LIST_STATUSES", "MAX_BODY", "MAX_TITLE", "MINOR_WEIGHT",
    "NOUN_WEIGHT", "PUBLISHED", "QUESTION_WORDS", "REJECTED", "SNIPPET", "STATUS_NAMES",
    "STOPWORDS", "SUPERSEDED", "TITLE_COVER", "WORD_WEIGHT", "Article", "ArticleFilter",
    "ArticleIn", "ArticleVersion", "ArticleView", "Hit", "answer_version", "create_article",
    "diff_versions", "expiring_articles", "get_article", "list_articles", "load_demo_knowledge",
    "local_date", "publish_version", "query_weights", "reject_version", "retire_article",
    "revise_article", "search", "tokens", "word_diff",
]
