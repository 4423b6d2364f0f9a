"""Chinese word segmentation (jieba), shared by the classifier and the knowledge base."""

from __future__ import annotations

import logging
import threading
from typing import Any

_tokenizer: Any = None
_tagger: Any = None
_lock = threading.Lock()


def segmenter() -> Any:
    """jieba's tokenizer, built once per process on first use (its dictionary takes about half
    a second to load); `cut` and `cut_for_search` are safe to call from many threads."""
    global _tokenizer
    if _tokenizer is None:
        with _lock:
            if _tokenizer is None:
                import jieba

                # jieba logs its dictionary loading at DEBUG to stderr: keep the console quiet.
                jieba.setLogLevel(logging.WARNING)
                tokenizer = jieba.Tokenizer()
                tokenizer.initialize()
                _tokenizer = tokenizer
    return _tokenizer


def tagger() -> Any:
    """jieba's part-of-speech tagger over the same dictionary (`cut` yields word and flag:
    n… nouns, v verbs, vn verbal nouns, r pronouns, …), built once per process."""
    global _tagger
    if _tagger is None:
        tokenizer = segmenter()
        with _lock:
            if _tagger is None:
                import jieba.posseg

                _tagger = jieba.posseg.POSTokenizer(tokenizer)
    return _tagger
