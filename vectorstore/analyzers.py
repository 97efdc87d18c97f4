"""Text analyzers: text -> tokens -> term ids, for BM25 and ``text_match``.

An analyzer is a tokenizer followed by filters, configured the way Milvus's
``analyzer_params`` are, so a schema moves to a Milvus server unchanged:

- ``"standard"`` (the default): Unicode word split (runs of letters, digits and
  ``_``), then lowercase. As in Unicode word segmentation (UAX #29, which
  Lucene's and Milvus's standard tokenizers follow), every Han ideograph and
  every Hiragana character is a token of its own and a Katakana run is one
  token, so Chinese and Japanese text is searchable character by character;
  Latin, Hangul and other words are runs as before.
- ``"chinese"``: Milvus's Chinese analyzer, ``{"tokenizer": "jieba", "filter":
  ["cnalphanumonly"]}``: jieba word segmentation (search mode, as Milvus's
  default), keeping tokens made of Han characters, ASCII letters and digits
  only. jieba is optional: ``pip install "kestrel-vectorstore[chinese]"``.
- ``"english"``: standard, then English stop words removed, then Snowball
  (Porter 2) stemming.
- ``"whitespace"``: split on whitespace only, no lowercasing.
- a dict: ``{"type": "standard" | "english" | "whitespace"}``, optionally with
  ``"stop_words": [...]``, or a custom chain ``{"tokenizer": "standard" |
  "whitespace" | "jieba", "filter": [...]}`` whose filters are applied in order
  (the tokenizer may be ``{"type": "jieba", "mode": "search" | "exact", "hmm":
  bool, "dict": ["_default_", extra words...]}``, as in Milvus):
  ``"lowercase"``, ``"asciifolding"``, ``{"type": "stop", "stop_words": [...]}``
  (``"_english_"`` in the list stands for the English set), ``{"type":
  "stemmer", "language": "english"}`` (any Snowball language) and ``{"type":
  "length", "max": n}`` (drop longer tokens; ``"min"`` too, a Kestrel extension),
  ``"cnalphanumonly"`` (keep tokens of Han characters, ASCII letters and
  digits only) and ``"cncharonly"`` (keep tokens of Han characters only).

jieba logs its dictionary loading; Kestrel raises its logger to WARNING so the
first use prints nothing. jieba caches its parsed dictionary as
``jieba.cache`` in the system temp directory (its default), which makes later
processes start faster.

Terms become 64-bit ids (BLAKE2b of their UTF-8 bytes): stable across
processes and machines and nothing to store. Milvus hashes terms to 32 bits,
where a vocabulary of 100,000 words already holds a colliding pair (two words
that match each other); at 64 bits the odds of one are about 1 in 10^9.
"""

from __future__ import annotations

import hashlib
import logging
import re
import threading
import unicodedata
import warnings
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
# Han ideographs (CJK Unified Ideographs, extension A, compatibility, and the
# supplementary planes' extensions), Hiragana, Katakana (with its phonetic
# extension and half-width forms).
_HAN = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f"
_HIRAGANA = "\u3041-\u309f"
_KATAKANA = "\u30a0-\u30ff\u31f0-\u31ff\uff66-\uff9f"
_CJK = re.compile(f"[{_HAN}{_HIRAGANA}{_KATAKANA}]")
_CJK_SPLIT = re.compile(f"[{_HAN}{_HIRAGANA}]|[{_KATAKANA}]+|[^{_HAN}{_HIRAGANA}{_KATAKANA}]+")
_CN_ALPHANUM = re.compile(f"[{_HAN}A-Za-z0-9]+")
_CN_CHAR = re.compile(f"[{_HAN}]+")
_TOKENIZERS = ("standard", "whitespace", "jieba")
_JIEBA_OPTIONS = {"type", "mode", "hmm", "dict"}
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
    "chinese": {"tokenizer": "jieba", "filter": ["cnalphanumonly"]},
}
_CACHE_LIMIT = 1_000_000  # distinct raw tokens remembered per analyzer


class Analyzer:
    """Turns text into tokens and term ids; build one with ``Analyzer.from_config``.

    Args:
        config: a built-in name or a Milvus-style ``analyzer_params`` dict (see
            the module docstring).

    Raises:
        SchemaError: an unknown analyzer, tokenizer, filter or option.
        MissingDependencyError: the jieba tokenizer (or ``"chinese"``) without
            jieba installed.

    Example:
        >>> Analyzer("english").tokens("The flows were running")
        ['flow', 'were', 'run']
    """

    def __init__(self, config: str | Mapping[str, Any] = "standard"):
        self.config = _normalise(config)
        chain = _chain(self.config)
        self._split: Callable[[str], list[str]] = _make_tokenizer(chain["tokenizer"])
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
    _tokenizer_kind(tokenizer)
    if not isinstance(filters, (list, tuple)):
        raise SchemaError("analyzer 'filter' must be a list")
    for f in filters:
        _make_filter(f)
    return {"tokenizer": tokenizer, "filter": list(filters)}


def _tokenizer_kind(spec: Any) -> str:
    """The tokenizer's name, after checking its options."""
    if isinstance(spec, Mapping):
        kind = spec.get("type")
        if kind == "jieba":
            unknown = set(spec) - _JIEBA_OPTIONS
            if unknown:
                raise SchemaError(
                    f"unknown jieba tokenizer option(s) {sorted(unknown)}; use mode, hmm or dict"
                )
            if spec.get("mode", "search") not in ("search", "exact"):
                raise SchemaError('jieba tokenizer: mode must be "search" or "exact"')
            if not isinstance(spec.get("hmm", True), bool):
                raise SchemaError("jieba tokenizer: hmm must be true or false")
            words = spec.get("dict", ["_default_"])
            if not isinstance(words, (list, tuple)) or not all(isinstance(w, str) for w in words):
                raise SchemaError("jieba tokenizer: dict must be a list of words")
            if "_default_" not in words:
                raise SchemaError(
                    "jieba tokenizer: Kestrel always uses jieba's own dictionary; put "
                    '"_default_" in dict (other entries are added as words)'
                )
            return "jieba"
        if set(spec) == {"type"} and kind in _TOKENIZERS:
            return str(kind)
        raise SchemaError(f"bad tokenizer {dict(spec)!r}: use a name or {{'type': 'jieba', ...}}")
    if spec not in _TOKENIZERS:
        raise SchemaError(f"unknown tokenizer {spec!r}; use {', '.join(_TOKENIZERS)}")
    return str(spec)


def _make_tokenizer(spec: Any) -> Callable[[str], list[str]]:
    kind = _tokenizer_kind(spec)
    if kind == "standard":
        return _standard_split
    if kind == "whitespace":
        return str.split
    options = dict(spec) if isinstance(spec, Mapping) else {}
    return _jieba_split(
        str(options.get("mode", "search")),
        bool(options.get("hmm", True)),
        tuple(w for w in options.get("dict", ()) if w != "_default_"),
    )


def _standard_split(text: str) -> list[str]:
    """Word runs; Han and Hiragana characters alone and Katakana runs (UAX #29)."""
    words: list[str] = _WORD.findall(text)
    if text.isascii() or not _CJK.search(text):  # the common case: as it always was
        return words
    out: list[str] = []
    for word in words:
        if _CJK.search(word):
            out.extend(_CJK_SPLIT.findall(word))
        else:
            out.append(word)
    return out


def _jieba_split(mode: str, hmm: bool, words: tuple[str, ...]) -> Callable[[str], list[str]]:
    """jieba segmentation (whitespace-only pieces dropped; punctuation kept, as Milvus).

    Raises:
        MissingDependencyError: jieba is not installed.
    """
    try:
        with warnings.catch_warnings():  # jieba's import may warn about pkg_resources
            warnings.simplefilter("ignore")
            import jieba
    except ImportError:
        raise MissingDependencyError(
            'the "chinese" analyzer and the jieba tokenizer need the optional package '
            "'jieba'; install it with: pip install \"kestrel-vectorstore[chinese]\""
        ) from None
    jieba.setLogLevel(logging.WARNING)  # else its first use logs to stderr
    segmenter = jieba.dt
    if words:  # a private dictionary: the shared one stays as jieba's users expect
        segmenter = jieba.Tokenizer()
        for word in words:
            segmenter.add_word(word)
    lock = threading.Lock()  # jieba's lazy dictionary load and add_word are not thread-safe

    def split(text: str) -> list[str]:
        with lock:
            if mode == "search":
                pieces = list(segmenter.cut_for_search(text, HMM=hmm))
            else:
                pieces = list(segmenter.cut(text, HMM=hmm))
        return [p for p in pieces if p and not p.isspace()]

    return split


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
    if kind == "cnalphanumonly" and not options:
        return lambda t: t if _CN_ALPHANUM.fullmatch(t) else None
    if kind == "cncharonly" and not options:
        return lambda t: t if _CN_CHAR.fullmatch(t) else None
    if kind == "stemmer" and set(options) <= {"language"}:
        return _stemmer(str(options.get("language", "english")))
    if kind == "length" and options and set(options) <= {"min", "max"}:
        low, high = options.get("min", 1), options.get("max", 1 << 30)
        for bound in (low, high):
            if not isinstance(bound, int) or isinstance(bound, bool) or bound < 1:
                raise SchemaError("length filter: min and max must be positive integers")
        return lambda t: t if low <= len(t) <= high else None
    raise SchemaError(
        f"unknown analyzer filter {spec!r}; use lowercase, asciifolding, stop, stemmer, "
        "length, cnalphanumonly or cncharonly"
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
