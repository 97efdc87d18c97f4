"""Text analyzers: text -> tokens -> term ids, for BM25 and ``text_match``.

An analyzer is a tokenizer followed by filters, configured the way Milvus's
``analyzer_params`` are, so a schema moves to a Milvus server unchanged:

- ``"standard"`` (the default): Unicode word split (runs of letters, digits and
  ``_``), then lowercase.
- ``"english"``: standard, then English stop words removed, then Snowball
  (Porter 2) stemming.
- ``"whitespace"``: split on whitespace only, no lowercasing.
- a dict: ``{"type": "standard" | "english" | "whitespace"}``, optionally with
  ``"stop_words": [...]``, or a custom chain ``{"tokenizer": "standard" |
  "whitespace", "filter": [...]}`` whose filters are applied in order:
  ``"lowercase"``, ``"asciifolding"``, ``{"type": "stop", "stop_words": [...]}``
  (``"_english_"`` in the list stands for the English set), ``{"type":
  "stemmer", "language": "english"}`` (any Snowball language) and ``{"type":
  "length", "max": n}`` (drop longer tokens; ``"min"`` too, a Kestrel extension).

Terms become 64-bit ids (BLAKE2b of their UTF-8 bytes): stable across
processes and machines and nothing to store. Milvus hashes terms to 32 bits,
where a vocabulary of 100,000 words already holds a colliding pair (two words
that match each other); at 64 bits the odds of one are about 1 in 10^9.
"""

from __future__ import annotations

import hashlib
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from .errors import MissingDependencyError, SchemaError

# Lucene's and Elasticsearch's English stop set (Milvus's "_english_").
_ENGLISH = """a an and are as at be but by for if in into is it no not of on or such that the
their then there these they this to was will with"""
ENGLISH_STOP_WORDS = frozenset(_ENGLISH.split())
_WORD = re.compile(r"\w+")
_TOKENIZERS = ("standard", "whitespace")
_BUILTIN: dict[str, dict[str, Any]] = {
    "standard": {"tokenizer": "standard", "filter": ["lowercase"]},
    "english": {  # Milvus's order: stems first, so "being" -> "be" goes too
        "tokenizer": "standard",
        "filter": [
            "lowercase",
            {"type": "stemmer", "language": "english"},
            {"type": "stop", "stop_words": ["_english_"]},
        ],
    },
    "whitespace": {"tokenizer": "whitespace", "filter": []},
}
_CACHE_LIMIT = 1_000_000  # distinct raw tokens remembered per analyzer


class Analyzer:
    """Turns text into tokens and term ids; build one with ``Analyzer.from_config``.

    Args:
        config: a built-in name or a Milvus-style ``analyzer_params`` dict (see
            the module docstring).

    Raises:
        SchemaError: an unknown analyzer, tokenizer, filter or option.

    Example:
        >>> Analyzer("english").tokens("The flows were running")
        ['flow', 'were', 'run']
    """

    def __init__(self, config: str | Mapping[str, Any] = "standard"):
        self.config = _normalise(config)
        chain = _chain(self.config)
        self._tokenizer: str = chain["tokenizer"]
        self._filters = [_make_filter(f) for f in chain["filter"]]
        self._ids: dict[str, int] = {}  # raw token -> term id (0 = dropped), memoised
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"Analyzer({self.config!r})"

    def tokens(self, text: str) -> list[str]:
        """The tokens of ``text``, in order, after every filter."""
        out = []
        for raw in self._split(text):
            token = self._analyse(raw)
            if token:
                out.append(token)
        return out

    def term_counts(self, text: str | None) -> dict[int, float]:
        """``{term id: occurrences}`` of ``text`` (empty for None or no tokens)."""
        if not text:
            return {}
        raws = self._split(text)
        ids = self._ids
        try:
            terms = [ids[raw] for raw in raws]
        except KeyError:
            learned = self._learn(raws, ids)
            terms = [learned[raw] if raw in learned else ids[raw] for raw in raws]
        counts = Counter(terms)
        counts.pop(0, None)
        return {term: float(n) for term, n in counts.items()}

    def term_ids(self, text: str) -> np.ndarray:
        """The distinct term ids of ``text``, sorted (uint64)."""
        return np.fromiter(sorted(self.term_counts(text)), dtype=np.uint64)

    def _split(self, text: str) -> list[str]:
        return _WORD.findall(text) if self._tokenizer == "standard" else text.split()

    def _analyse(self, raw: str) -> str | None:
        """One raw token through the filters (None: dropped)."""
        token = raw
        for f in self._filters:
            out = f(token)
            if out is None:
                return None
            token = out
        return token or None

    def _learn(self, raws: Sequence[str], known: Mapping[str, int]) -> dict[str, int]:
        """Analyse the tokens ``known`` lacks; returns their ids."""
        learned: dict[str, int] = {}
        for raw in raws:
            if raw in known or raw in learned:
                continue
            token = self._analyse(raw)
            learned[raw] = term_id(token) if token else 0
        with self._lock:
            if len(self._ids) > _CACHE_LIMIT:
                self._ids = {}
            self._ids.update(learned)
        return learned


def term_id(token: str) -> int:
    """The 64-bit id of an analysed token (never 0: 0 marks a dropped token)."""
    digest = hashlib.blake2b(token.encode("utf-8"), digest_size=8).digest()
    return int.from_bytes(digest, "little") or 1


def _normalise(config: str | Mapping[str, Any]) -> str | dict[str, Any]:
    if isinstance(config, str):
        if config not in _BUILTIN:
            raise SchemaError(
                f"unknown analyzer {config!r}; use {', '.join(sorted(_BUILTIN))} or a dict"
            )
        return config
    if not isinstance(config, Mapping):
        raise SchemaError(f"analyzer must be a name or a dict, got {type(config).__name__}")
    out = dict(config)
    _chain(out)  # validates
    return out


def _chain(config: str | Mapping[str, Any]) -> dict[str, Any]:
    """The tokenizer and filter list a config stands for."""
    if isinstance(config, str):
        return _BUILTIN[config]
    config = dict(config)
    if "type" in config:
        kind = config.pop("type")
        if kind not in _BUILTIN:
            raise SchemaError(f"unknown analyzer type {kind!r}; use {', '.join(sorted(_BUILTIN))}")
        chain = {"tokenizer": _BUILTIN[kind]["tokenizer"], "filter": list(_BUILTIN[kind]["filter"])}
        stop = config.pop("stop_words", None)
        if stop is not None:  # replaces the analyzer's stop list, or is added last
            filters = chain["filter"]
            at = [i for i, f in enumerate(filters) if isinstance(f, dict) and f["type"] == "stop"]
            spec = {"type": "stop", "stop_words": stop}
            if at:
                filters[at[0]] = spec
            else:
                filters.append(spec)
        if config:
            raise SchemaError(f"unknown analyzer option(s) {sorted(config)}")
        for f in chain["filter"]:
            _make_filter(f)
        return chain
    tokenizer = config.pop("tokenizer", "standard")
    filters = config.pop("filter", [])
    if config:
        raise SchemaError(f"unknown analyzer option(s) {sorted(config)}; use tokenizer and filter")
    if tokenizer not in _TOKENIZERS:
        raise SchemaError(f"unknown tokenizer {tokenizer!r}; use {' or '.join(_TOKENIZERS)}")
    if not isinstance(filters, (list, tuple)):
        raise SchemaError("analyzer 'filter' must be a list")
    for f in filters:
        _make_filter(f)
    return {"tokenizer": tokenizer, "filter": list(filters)}


def _make_filter(spec: Any) -> Callable[[str], str | None]:
    if isinstance(spec, str):
        spec = {"type": spec}
    if not isinstance(spec, Mapping) or "type" not in spec:
        raise SchemaError(f"bad analyzer filter {spec!r}: a name or a dict with 'type'")
    options = dict(spec)
    kind = options.pop("type")
    if kind == "lowercase" and not options:
        return str.lower
    if kind == "asciifolding" and not options:
        return _fold
    if kind == "stop" and set(options) <= {"stop_words"}:
        words = options.get("stop_words", ["_english_"])
        if isinstance(words, str):  # Milvus also takes "stop_words": "_english_"
            words = [words]
        if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
            raise SchemaError("stop filter: stop_words must be a list of strings")
        stop: set[str] = set()
        for w in words:
            stop |= ENGLISH_STOP_WORDS if w == "_english_" else {w}
        return lambda t: None if t in stop else t
    if kind == "stemmer" and set(options) <= {"language"}:
        return _stemmer(str(options.get("language", "english")))
    if kind == "length" and options and set(options) <= {"min", "max"}:
        low, high = options.get("min", 1), options.get("max", 1 << 30)
        for bound in (low, high):
            if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
                raise SchemaError("length filter: min and max must be positive integers")
        return lambda t: t if low <= len(t) <= high else None
    raise SchemaError(
        f"unknown analyzer filter {spec!r}; use lowercase, asciifolding, stop, stemmer or length"
    )


def _fold(token: str) -> str:
    decomposed = unicodedata.normalize("NFKD", token)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def _stemmer(language: str) -> Callable[[str], str | None]:
    try:
        import snowballstemmer  # type: ignore[import-untyped]
    except ImportError:  # pragma: no cover - a core dependency
        raise MissingDependencyError(
            'stemming needs snowballstemmer: pip install "kestrel-vectorstore"'
        ) from None
    try:
        stemmer = snowballstemmer.stemmer(language.lower())
    except KeyError:
        known = ", ".join(snowballstemmer.algorithms())
        raise SchemaError(f"no Snowball stemmer for {language!r} (have: {known})") from None
    lock = threading.Lock()  # Snowball stemmer objects keep state between calls

    def stem(token: str) -> str:
        with lock:
            result: str = stemmer.stemWord(token)
        return result

    return stem


__all__ = ["ENGLISH_STOP_WORDS", "Analyzer", "term_id"]
