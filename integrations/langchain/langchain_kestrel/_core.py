"""The engine side of a ``KestrelVectorStore``: its collection, writes and searches.

``StoreCore`` owns the collection handle (opened, created when the first
vectors fix the dimension, or picked up when another store on the same client
created it) and turns checked inputs into ``vectorstore.CollectionAPI`` calls. It knows
nothing of embeddings: the store embeds and passes vectors.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from langchain_core.documents import Document
from langchain_core.vectorstores.utils import maximal_marginal_relevance

import vectorstore as vs

from .filters import FilterType, to_expr
from .schema import FieldNames, build_schema, check_collection, check_metadata
from .scoring import HybridMode, Ranker, hybrid_relevance, metric_relevance, resolve_ranker

DEFAULT_BATCH_SIZE = 1000  # texts embedded and written per engine call
MIN_HYBRID_FETCH = 20  # candidates each route of a hybrid search brings, at least

_DENSE_ONLY = (
    "For dense-only search on this server: KestrelVectorStore(..., "
    "field_names=FieldNames(sparse=None), analyzer=None)."
)
_NO_BM25 = (
    "hybrid search needs a BM25 sparse field filled from the text; collection {name!r} has "
    "none{named} (use hybrid=None, or a collection created by this store)"
)


def no_bm25(name: str, sparse: str | None) -> str:
    """The error for a hybrid search where the collection has no BM25 field."""
    named = f" named {sparse!r}" if sparse else " (field_names has sparse=None)"
    return _NO_BM25.format(name=name, named=named)


def no_extra(kwargs: Mapping[str, Any], method: str) -> None:
    """Raise ``TypeError`` for keyword arguments a method does not take."""
    if kwargs:
        raise TypeError(f"{method}() got unexpected keyword argument(s) {sorted(kwargs)}")


def parse_metric(metric: str | None) -> vs.Metric | None:
    """A dense metric from its name (None stays None).

    Raises:
        ValueError: not COSINE, IP or L2.
    """
    if metric is None:
        return None
    try:
        m: vs.Metric | None = vs.Metric(str(getattr(metric, "value", metric)).upper())
    except ValueError:
        m = None
    if m is None or m is vs.Metric.BM25:
        raise ValueError(f"metric must be 'COSINE', 'IP' or 'L2', got {metric!r}")
    return m


@dataclass(frozen=True)
class SearchOptions:
    """The options every search method shares."""

    filter: FilterType | None = None
    filter_params: Mapping[str, Any] | None = None
    partition: str | Sequence[str] | None = None
    search_params: Mapping[str, Any] | None = None
    hybrid: HybridMode | bool | None = None
    ranker: Ranker | None = None
    fetch_k: int | None = None

    @classmethod
    def parse(cls, kwargs: Mapping[str, Any], method: str) -> SearchOptions:
        """Options from ``**kwargs``; anything unknown is a ``TypeError``."""
        known = set(cls.__dataclass_fields__)
        no_extra({k: v for k, v in kwargs.items() if k not in known}, method)
        return cls(**kwargs)


@dataclass(frozen=True)
class Batch:
    """Checked ``add_texts`` input: texts, metadata and ids (generated where missing)."""

    texts: list[str]
    metadatas: list[dict[str, Any]]
    ids: list[str]
    size: int = DEFAULT_BATCH_SIZE

    @classmethod
    def of(
        cls,
        texts: Iterable[str],
        metadatas: Sequence[dict[str, Any] | None] | None,
        ids: Sequence[str | None] | None,
        size: int,
    ) -> Batch:
        """Check lengths, ids and metadata; generate uuid4 ids for missing ones.

        Raises:
            ValueError: lengths differ, a non-str id, a bad batch size.
            MetadataError: metadata JSON cannot hold exactly.
        """
        text_list = list(texts)
        n = len(text_list)
        if metadatas is not None and len(metadatas) != n:
            raise ValueError(f"got {len(metadatas)} metadatas for {n} texts")
        if ids is not None and len(ids) != n:
            raise ValueError(f"got {len(ids)} ids for {n} texts")
        if not isinstance(size, int) or isinstance(size, bool) or size < 1:
            raise ValueError(f"batch_size must be a positive int, got {size!r}")
        metas = [
            check_metadata(None if metadatas is None else metadatas[i], f"metadatas[{i}]")
            for i in range(n)
        ]
        keys: list[str] = []
        for i in range(n):
            key = None if ids is None else ids[i]
            if key is not None and not isinstance(key, str):
                raise ValueError(f"ids[{i}] must be a str, got {type(key).__name__}")
            keys.append(key or str(uuid.uuid4()))
        return cls(text_list, metas, keys, size)

    def parts(self) -> Iterator[Batch]:
        """The batch in slices of ``size`` texts."""
        for start in range(0, len(self.texts), self.size):
            stop = start + self.size
            yield Batch(
                self.texts[start:stop], self.metadatas[start:stop], self.ids[start:stop], self.size
            )


class StoreCore:
    """A store's collection and the engine calls on it (thread-safe, like the engine)."""

    def __init__(
        self,
        names: FieldNames,
        *,
        client: vs.ClientAPI | None,
        name: str,
        metric: vs.Metric | None,
        index_params: Mapping[str, Any],
        search_params: Mapping[str, Any],
        partition: str | None,
        hybrid: HybridMode | None,
        ranker: Ranker | None,
        analyzer: str | Mapping[str, Any] | None,
        dimension: int | None,
        relevance_fn: Callable[[float], float] | None = None,
    ) -> None:
        if hybrid is not None and hybrid not in ("rrf", "weighted"):
            raise ValueError(f"hybrid must be None, 'rrf' or 'weighted', got {hybrid!r}")
        resolve_ranker(None, ranker, hybrid, None)  # type-checks the ranker
        self.names = names
        self.client = client
        self.name = name
        self.metric_arg = metric
        self.metric = metric or vs.Metric.COSINE
        self.index_params = dict(index_params)
        self.search_params = dict(search_params)
        self.partition = partition
        self.hybrid: HybridMode | None = hybrid
        self.ranker = ranker
        self.analyzer = analyzer
        self.dimension = dimension
        self.bm25 = names.sparse is not None
        self.relevance_fn = relevance_fn
        self._col: vs.CollectionAPI | None = None
        self._lock = threading.Lock()

    # ------------------------------------------------------------ collection
    def attach(self, col: vs.CollectionAPI) -> vs.CollectionAPI:
        """Use ``col``, after checking it fits (fields, metric, dimension, BM25).

        Raises:
            vectorstore.ConfigError: it does not fit.
        """
        metric, bm25, dim = check_collection(col, self.names)
        if self.metric_arg is not None and metric is not self.metric_arg:
            raise vs.ConfigError(
                f"collection {col.name!r} uses metric {metric.value}, not {self.metric_arg.value}"
            )
        if self.dimension is not None and dim != self.dimension:
            raise vs.ConfigError(
                f"collection {col.name!r} holds {dim}-dimensional vectors, not {self.dimension}"
            )
        if (self.hybrid is not None or self.ranker is not None) and not bm25:
            raise vs.ConfigError(no_bm25(col.name, self.names.sparse))
        if self.partition is not None:
            col.create_partition(self.partition)
        self.metric, self.bm25, self.dimension, self._col = metric, bm25, dim, col
        return col

    def current(self) -> vs.CollectionAPI | None:
        """The collection, or None while nobody has created it yet.

        Another store on the same client (or a reopened path) may create it
        after this store was built; it is picked up here.
        """
        if self._col is None and self.client is not None:
            with self._lock:
                if self._col is None and self.client.has_collection(self.name):
                    self.attach(self.client.get_collection(self.name))
        return self._col

    def ensure(self, dimension: int) -> vs.CollectionAPI:
        """The collection, created for ``dimension``-wide vectors if it does not exist."""
        with self._lock:
            if self._col is not None:
                return self._col
            if self.client is None:  # pragma: no cover - collection= always attaches
                raise vs.ConfigError("this store has no client to create its collection with")
            if self.client.has_collection(self.name):
                return self.attach(self.client.get_collection(self.name))
            params = dict(self.index_params)
            index_type = params.pop("index_type", "HNSW")
            index = vs.Index(self.names.vector, index_type, self.metric, **params)
            try:
                col = self.client.create_collection(
                    self.name,
                    schema=build_schema(self.names, dimension, self.analyzer),
                    indexes=[index],
                )
            except vs.NotSupportedError as e:
                if self.names.sparse is None and self.analyzer is None:
                    raise
                raise vs.NotSupportedError(f"{e} {_DENSE_ONLY}") from e
            return self.attach(col)

    def drop(self) -> None:
        """Drop the collection (the next write creates it again).

        Raises:
            vectorstore.ConfigError: no client (the store was given a collection).
        """
        if self.client is None:
            raise vs.ConfigError("a store built from collection= cannot drop it; use its client")
        with self._lock:
            self.client.drop_collection(self.name)
            self._col = None

    # ------------------------------------------------------------ writes
    def write(
        self, batch: Batch, vectors: Sequence[Sequence[float]], partition: str | None
    ) -> None:
        """Upsert a checked batch with its vectors (one row per id: the last wins)."""
        if len(vectors) != len(batch.texts):
            raise vs.EmbeddingError(
                f"the embeddings returned {len(vectors)} vectors for {len(batch.texts)} texts"
            )
        if len(vectors) == 0:  # (an embedding may return a numpy matrix)
            return
        col = self.ensure(len(vectors[0]))
        target = partition or self.partition or vs.DEFAULT_PARTITION
        if target != vs.DEFAULT_PARTITION:
            col.create_partition(target)
        n = self.names
        rows = {  # as consecutive adds would: the last row of an id wins
            key: {n.primary: key, n.text: text, n.vector: vec, n.metadata: meta}
            for key, text, vec, meta in zip(
                batch.ids, batch.texts, vectors, batch.metadatas, strict=True
            )
        }
        col.upsert(list(rows.values()), partition=target)

    def delete(
        self,
        ids: Sequence[str] | None,
        filter: FilterType | None,
        filter_params: Mapping[str, Any] | None,
    ) -> None:
        """Delete by ids (missing ones ignored) or by filter, in the store's partition.

        Raises:
            ValueError: neither or both of ``ids`` and ``filter``.
        """
        col = self.current()
        expr = to_expr(filter, self.names.metadata, None if col is None else _fields(col))
        if (ids is None) == (expr is None):
            raise ValueError(
                "delete() takes ids= or filter= (to empty the store, use delete_collection())"
            )
        if isinstance(ids, str):  # one id, not its characters
            ids = [ids]
        if col is None or (ids is not None and not ids):
            return
        if ids is not None:
            col.delete(ids=list(ids), partition=self.partition)
        else:
            col.delete(filter=expr, filter_params=filter_params, partition=self.partition)

    # ------------------------------------------------------------ reads
    def document(self, key: Any, entity: Mapping[str, Any]) -> Document:
        """A ``Document`` from a row or hit entity."""
        n = self.names
        return Document(id=key, page_content=entity[n.text], metadata=entity[n.metadata] or {})

    def get(self, ids: Sequence[str]) -> list[Document]:
        """Documents by id, in the order asked, missing ids skipped."""
        col = self.current()
        if isinstance(ids, str):  # one id, not its characters
            ids = [ids]
        if col is None or not ids:
            return []
        n = self.names
        partitions = None if self.partition is None else [self.partition]
        rows = col.get(list(ids), output_fields=[n.text, n.metadata], partitions=partitions)
        return [self.document(row[n.primary], row) for row in rows]

    def search(
        self,
        vector: Sequence[float],
        text: str | None,
        k: int,
        opts: SearchOptions,
        *,
        with_vectors: bool = False,
    ) -> tuple[list[vs.Hit], Ranker | None]:
        """A dense or hybrid search: the hits, and the ranker (None: dense).

        Raises:
            ValueError: hybrid asked for without query text, or a bad mode/ranker.
            vectorstore.ConfigError: hybrid search without a BM25 field.
        """
        ranker = resolve_ranker(opts.hybrid, opts.ranker, self.hybrid, self.ranker)
        if ranker is not None and text is None:
            if opts.hybrid is not None or opts.ranker is not None:
                raise ValueError("hybrid search needs the query text, not only its vector")
            ranker = None  # the store's default: by-vector searches are dense
        if ranker is not None and not self.bm25:
            raise vs.ConfigError(no_bm25(self.name, self.names.sparse))
        col = self.current()
        if col is None or k <= 0:  # k = 0 asks for nothing, as InMemoryVectorStore
            return [], ranker
        k = min(k, vs.MAX_TOPK)  # the engine's cap; a store holds fewer rows than asked anyway
        n = self.names
        fields = [n.text, n.metadata, *([n.vector] if with_vectors else [])]
        expr = to_expr(opts.filter, n.metadata, _fields(col)) or ""
        partitions = self._partitions(opts.partition)
        params = opts.search_params if opts.search_params is not None else self.search_params
        fp = opts.filter_params
        if ranker is None:
            hits = col.search(
                [list(vector)],
                anns_field=n.vector,
                limit=k,
                filter=expr,
                filter_params=fp,
                search_params=params or None,
                partitions=partitions,
                output_fields=fields,
            )
            return hits[0], None
        assert n.sparse is not None and text is not None
        fetch = min(vs.MAX_TOPK, max(k, opts.fetch_k or max(2 * k, MIN_HYBRID_FETCH)))
        reqs = [
            vs.AnnRequest([list(vector)], n.vector, fetch, expr, fp, params or None),
            vs.AnnRequest([text], n.sparse, fetch, expr, fp),
        ]
        hits = col.hybrid_search(
            reqs, ranker=ranker, limit=k, output_fields=fields, partitions=partitions
        )
        return hits[0], ranker

    def _partitions(self, partition: str | Sequence[str] | None) -> list[str] | None:
        if partition is None:
            return None if self.partition is None else [self.partition]
        return [partition] if isinstance(partition, str) else list(partition)

    def scored(
        self, vector: Sequence[float], text: str | None, k: int, opts: SearchOptions
    ) -> list[tuple[Document, float]]:
        """``(document, engine score)`` pairs, best first."""
        hits, _ = self.search(vector, text, k, opts)
        return [(self.document(h.id, h.entity), float(h.distance)) for h in hits]

    def dense_relevance(self) -> Callable[[float], float]:
        """The relevance function of dense scores: the user's, else by metric."""
        return self.relevance_fn or metric_relevance(self.metric)

    def relevance(
        self, vector: Sequence[float], text: str, k: int, opts: SearchOptions
    ) -> list[tuple[Document, float]]:
        """``(document, relevance)`` pairs, best first (see ``scoring``)."""
        hits, ranker = self.search(vector, text, k, opts)
        fn = self.dense_relevance() if ranker is None else hybrid_relevance(ranker)
        return [(self.document(h.id, h.entity), fn(float(h.distance))) for h in hits]

    def mmr(
        self,
        vector: Sequence[float],
        text: str | None,
        k: int,
        fetch_k: int,
        lambda_mult: float,
        opts: SearchOptions,
    ) -> list[Document]:
        """``k`` of ``fetch_k`` candidates by langchain-core's maximal marginal relevance."""
        hits, _ = self.search(vector, text, max(k, fetch_k), opts, with_vectors=True)
        if not hits:
            return []
        chosen = maximal_marginal_relevance(
            np.asarray(vector, dtype=np.float32),
            [h.entity[self.names.vector] for h in hits],
            lambda_mult=lambda_mult,
            k=k,
        )
        return [self.document(hits[i].id, hits[i].entity) for i in chosen]


def _fields(col: vs.CollectionAPI) -> frozenset[str]:
    """The collection's field names: in a filter, any other name is a metadata key."""
    return frozenset(f.name for f in col.schema.fields)
