"""Segments: the unit of storage and search.

A segment holds rows column by column, a tombstone per row, and one index per
dense vector field. A *growing* segment takes appends; a *sealed* one is
immutable but for its tombstones (its columns may be memory-mapped files).
Row offsets inside a segment are the index labels. HNSW grows with the rows;
an IVF index is trained when the segment is sealed (``seal``), and a segment
without one (growing, or smaller than ``MIN_IVF_ROWS``) is searched exactly.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import planner
from .columns import Column, ColumnBatch, FileColumn
from .expr import Expr, evaluate
from .functions import FunctionType
from .index import flat
from .index.hnsw import HnswIndex, IncompleteSearchError
from .index.ivf import IvfIndex, rerank
from .index.scalar import ScalarIndex
from .index.sparse import Scorer, SparseColumn, SparseQuery
from .index_spec import Index
from .keyindex import KeyIndex
from .rows import RowBatch, dynamic_column
from .scalars import copy_value
from .schema import Schema
from .selection import Selection
from .types import DataType, Metric

_SPILLS = itertools.count(1)  # makes every spill file name of this process unique
MIN_IVF_ROWS = 1024  # smaller sealed segments keep no IVF index (as Milvus): exact search

SELECTION_CACHE_SIZE = 8  # filter results kept per segment (~9 bytes per row each)
INDEX_CHUNK_BYTES = 4 << 20  # rows handed to the graph's build at a time (a peak of flush)
SUBSET_BUDGET_BYTES = 32 << 20  # a segment keeps its selections' gathered vectors up to this


class Segment:
    """Rows of one partition, their tombstones and their vector indexes.

    Args:
        segment_id: unique within the collection.
        partition: the partition the rows belong to.
        schema: the collection schema.
        indexes: index definitions by vector field name.
        spill_dir: where a growing segment keeps its exact vectors (path
            stores); None keeps them in memory.
    """

    def __init__(
        self,
        segment_id: int,
        partition: str,
        schema: Schema,
        indexes: dict[str, Index],
        spill_dir: str | None = None,
    ):
        self.id = segment_id
        self.partition = partition
        self.schema = schema
        self.sealed = False
        self.columns: dict[str, Column] = {
            f.name: Column(f.dtype.numpy_dtype) for f in schema.scalar_fields
        }
        self.nulls: dict[str, Column] = {
            f.name: Column(np.bool_) for f in schema.scalar_fields if f.nullable
        }
        self.dynamic: Column | None = Column(object) if schema.enable_dynamic_field else None
        self.vectors: dict[str, Column | FileColumn] = {}
        self.sparse: dict[str, SparseColumn] = {}
        for f in schema.vector_fields:
            if f.dtype is DataType.FLOAT_VECTOR:
                assert f.dim is not None
                if spill_dir is None:
                    self.vectors[f.name] = Column(np.float32, (f.dim,))
                else:
                    # pid: other processes keep their own growing copies in this folder;
                    # the serial: a file of a replaced copy may still await its finalizer
                    name = f"growing_p{os.getpid()}_{next(_SPILLS)}_{segment_id}_{f.name}.f32"
                    path = os.path.join(spill_dir, name)
                    self.vectors[f.name] = FileColumn(path, f.dim)
            elif (fn := schema.functions_by_output.get(f.name)) and fn.kind is FunctionType.BM25:
                self.sparse[f.name] = SparseColumn(index_dtype=np.uint64)  # term ids
            else:
                self.sparse[f.name] = SparseColumn()
        self.deleted = Column(np.bool_)
        self.num_deleted = 0
        self._keys = KeyIndex()
        self.persisted = False  # its folder is written (path stores)
        self.persisted_deleted = 0  # deletes that folder's tombstones hold
        self.index_dirty: set[str] = set()  # indexes rebuilt since the folder was written
        self.index_specs: dict[str, Index] = dict(indexes)
        self.indexes: dict[str, HnswIndex | IvfIndex] = {}
        for name, spec in indexes.items():
            self.indexes.update(self._new_index(name, spec))
        self.scalar_indexes: dict[str, ScalarIndex] = {}  # built when sealed
        self._selections: OrderedDict[tuple[Expr | None, int, int], Selection] = OrderedDict()
        self._token_columns: dict[str, SparseColumn] = {}  # text_match on non-BM25 fields
        self._subset_bytes = 0
        self._cache_lock = threading.Lock()
        self._indexed = 0  # rows its HNSW graphs hold (the first ones)
        self._index_lock = threading.Lock()
        self._copied = {
            f.name for f in schema.scalar_fields if f.dtype in (DataType.JSON, DataType.ARRAY)
        }
        self._field_types = schema.field_types()

    def _new_index(self, name: str, spec: Index) -> dict[str, HnswIndex | IvfIndex]:
        """An empty HNSW index, or an IVF index trained on every row of a sealed
        segment big enough for one (else nothing: exact search)."""
        if spec.index_type == "HNSW":
            dim = self.schema[name].dim
            assert dim is not None
            return {
                name: HnswIndex(
                    dim, spec.vector_metric, spec.params["M"], spec.params["ef_construction"]
                )
            }
        if spec.index_type.startswith("IVF_") and self.sealed and self.num_rows >= MIN_IVF_ROWS:
            vectors = np.ascontiguousarray(self.vectors[name].rows(0, self.num_rows))
            return {
                name: IvfIndex.build(
                    vectors, spec.vector_metric, spec.index_type, dict(spec.params)
                )
            }
        return {}

    def build_scalar_index(self, name: str) -> ScalarIndex:
        """The scalar index of a field over this segment's rows."""
        null = self.nulls[name].view if name in self.nulls else None
        return ScalarIndex.build(self.columns[name].view, null, self.schema[name].dtype)

    def seal(self) -> None:
        """Take no more appends; train the IVF indexes and sort the scalar ones
        (now that the rows are known). The HNSW graphs are not built here: the
        first search that walks them builds them, or ``build_graphs`` (an
        explicit flush), so a checkpoint inside a write only writes rows."""
        if self.sealed:
            return
        self.sealed = True
        for name, spec in self.index_specs.items():
            if spec.is_scalar:
                self.scalar_indexes[name] = self.build_scalar_index(name)
                self.index_dirty.add(name)
            elif name not in self.indexes:
                try:
                    built = self._new_index(name, spec)
                except (MemoryError, RuntimeError) as exc:
                    # Sealing happens inside an acknowledged write or a checkpoint: it
                    # must not fail them. Without its index the segment is searched
                    # exactly (right, only slower); create_index() retries the training.
                    warnings.warn(
                        f"could not train the {spec.index_type} index of {name!r} on "
                        f"segment {self.id} ({exc}); it is searched exactly",
                        RuntimeWarning,
                        stacklevel=2,
                    )
                    continue
                if built:
                    self.indexes.update(built)
                    self.index_dirty.add(name)
        self._no_graph_to_build()

    def _no_graph_to_build(self) -> None:
        """Without an HNSW graph every row counts as in the graphs (not pending)."""
        if not any(isinstance(index, HnswIndex) for index in self.indexes.values()):
            self._indexed = self.num_rows

    def defer_graph(self, name: str) -> None:
        """Give a sealed segment read from disk without its graph an empty one,
        which the first search that walks it fills (``build_graphs``) and a
        checkpoint saves."""
        self.indexes.update(self._new_index(name, self.index_specs[name]))
        self.index_dirty.add(name)

    def graphs_hold(self, rows: int) -> None:
        """The graphs read from disk hold the first ``rows`` rows."""
        self._indexed = rows

    @contextlib.contextmanager
    def graphs_settled(self) -> Iterator[bool]:
        """Hold off ``build_graphs`` (a search's) while the graphs are saved;
        yields whether they hold every row."""
        with self._index_lock:
            yield not self.graph_pending

    def close(self) -> None:
        """Release file-backed columns (the segment is being dropped or replaced)."""
        for col in self.vectors.values():
            if isinstance(col, FileColumn):
                col.close()

    # ------------------------------------------------------------------ shape
    @property
    def num_rows(self) -> int:
        """Rows stored, deleted ones included."""
        return len(self.deleted)

    @property
    def num_live(self) -> int:
        return len(self.deleted) - self.num_deleted  # (num_rows, inlined: searches call this)

    @property
    def pks(self) -> np.ndarray:
        return self.columns[self.schema.primary.name].view

    def live_mask(self) -> np.ndarray:
        return ~self.deleted.view

    def find(self, keys: Sequence[Any]) -> np.ndarray:
        """The offsets of the live rows holding ``keys`` (-1 where none does)."""
        return self._keys.find(keys, self.pks, self.deleted.view)

    # ----------------------------------------------------------------- writes
    def append(self, batch: RowBatch) -> int:
        """Append a validated batch; returns the offset of its first row."""
        assert not self.sealed, "sealed segments take no appends"
        start = self.num_rows
        n = batch.num_rows
        for name, col in self.columns.items():
            col.append(batch.scalars[name])
        for name, col in self.nulls.items():
            mask = batch.nulls.get(name)
            col.append(mask if mask is not None else np.zeros(n, dtype=bool))
        if self.dynamic is not None:
            assert batch.dynamic is not None
            self.dynamic.append(dynamic_column(batch.dynamic))
        for name, vec_col in self.vectors.items():
            vec_col.append(batch.vectors[name])
        for name, sparse in self.sparse.items():
            sparse.append(batch.sparse[name])
        # The graph takes the rows when a search or a flush needs them (build_graphs):
        # a process that only writes, or replays others' writes, never pays for it.
        self.deleted.append(np.zeros(n, dtype=bool))
        return start

    @property
    def graph_pending(self) -> bool:
        """Whether some rows are not in the HNSW graphs yet (see ``build_graphs``)."""
        return self._indexed < len(self.deleted)

    def unindexed_rows(self) -> int:
        """Live rows not in the HNSW graphs yet (the next walk or flush adds them;
        0 without an HNSW index)."""
        hnsw = any(isinstance(index, HnswIndex) for index in self.indexes.values())
        if not hnsw or self._indexed >= len(self.deleted):
            return 0
        return int(np.count_nonzero(~self.deleted.view[self._indexed :]))

    def build_graphs(self) -> None:
        """Add the rows appended since the last call to the HNSW graphs (in
        chunks, deleted ones marked). Searches call it under the collection's
        read lock, so concurrent ones take turns here; deletes wait for it."""
        if self._indexed >= len(self.deleted):
            return  # nothing pending: no lock (searches call this before each graph walk)
        with self._index_lock:
            start, end = self._indexed, len(self.deleted)
            if start >= end:
                return
            for name, index in self.indexes.items():
                if isinstance(index, HnswIndex):  # (IVF: trained whole when sealed)
                    self._add_rows(index, name, start, end)
            self._indexed = end

    def _add_rows(self, index: HnswIndex, name: str, start: int, end: int) -> None:
        """Add rows ``start .. end - 1`` of field ``name`` to a graph, a chunk at
        a time (spilled rows read, not mapped), and mark the deleted ones."""
        index.reserve(end)
        column, dim = self.vectors[name], self.schema[name].dim or 1
        step = max(1, INDEX_CHUNK_BYTES // (4 * dim))
        for lo in range(start, end, step):
            hi = min(lo + step, end)
            index.add(np.ascontiguousarray(column.rows(lo, hi)), np.arange(lo, hi, dtype=np.int64))
        index.mark_deleted(np.flatnonzero(self.deleted.view[start:end]) + start)

    def delete(self, offsets: np.ndarray) -> None:
        """Tombstone rows (offsets must be live)."""
        if len(offsets) == 0:
            return
        self.deleted.view[offsets] = True
        self.num_deleted += len(offsets)
        in_graph = offsets[offsets < self._indexed]  # build_graphs marks the others
        for index in self.indexes.values():
            if isinstance(index, HnswIndex):  # IVF skips deleted rows by the live mask
                index.mark_deleted(in_graph)

    def set_index(self, name: str, spec: Index) -> None:
        """Rebuild the index of a field over all rows (none for FLAT; a growing
        segment builds a scalar index when it is sealed)."""
        self.index_dirty.add(name)
        self.index_specs[name] = spec
        if spec.is_scalar:
            self.scalar_indexes.pop(name, None)
            if self.sealed:
                self.scalar_indexes[name] = self.build_scalar_index(name)
            return
        with self._index_lock:  # every graph holds the same rows, 0 .. _indexed
            self.indexes.pop(name, None)
            built = self._new_index(name, spec)
            for index in built.values():
                if isinstance(index, HnswIndex):  # build_graphs adds the rest to all
                    self._add_rows(index, name, 0, self._indexed)
            self.indexes.update(built)
            self._no_graph_to_build()

    def drop_scalar_index(self, name: str) -> None:
        """Forget a scalar field's index: filters on it scan again."""
        self.index_specs.pop(name, None)
        self.scalar_indexes.pop(name, None)
        self.index_dirty.add(name)

    # ------------------------------------------------------------------ reads
    def select(self, expr: Expr | None) -> Selection:
        """The live rows passing ``expr`` (all live rows for None), cached.

        The cache is keyed by the expression and the segment's state (rows
        and deletes), so a filter repeated across searches (a tenant, a user,
        a category) is evaluated once per change of the segment.
        """
        key = (expr, self.num_rows, self.num_deleted)
        with self._cache_lock:
            found = self._selections.get(key)
            if found is not None:
                self._selections.move_to_end(key)
                return found
        mask = self.live_mask()
        if expr is not None:
            mask &= evaluate(expr, self.column_batch())
        mask.flags.writeable = False
        selection = Selection(mask, np.flatnonzero(mask))
        with self._cache_lock:
            self._selections[key] = selection
            while len(self._selections) > SELECTION_CACHE_SIZE:
                self._subset_bytes -= self._selections.popitem(last=False)[1].cached_bytes
        return selection

    def keep_subset(
        self, selection: Selection, key: tuple[str, Metric], sub: np.ndarray
    ) -> np.ndarray:
        """Cache a selection's gathered vectors, evicting the oldest within budget."""
        with self._cache_lock:
            found = selection._subsets.get(key)
            if found is not None:  # another thread was first
                return found
            selection._subsets[key] = sub
            self._subset_bytes += sub.nbytes
            for other in self._selections.values():  # oldest first
                if self._subset_bytes <= SUBSET_BUDGET_BYTES:
                    break
                if other is not selection:
                    self._subset_bytes -= other.cached_bytes
                    other._subsets.clear()
        return sub

    def column_batch(self) -> ColumnBatch:
        """The columns as a filter sees them (views, no copies)."""
        nulls = {name: col.view for name, col in self.nulls.items()}
        return ColumnBatch(
            num_rows=self.num_rows,
            types=self._field_types,
            values={name: col.view for name, col in self.columns.items()},
            nulls=nulls,
            dynamic=self.dynamic.view if self.dynamic is not None else None,
            text_match=self.text_match,
            indexes=self.scalar_indexes,
        )

    def text_match(self, field: str, words: str) -> np.ndarray:
        """Rows whose ``field`` text holds any of ``words`` (both analysed by the
        field's analyzer), as a mask."""
        terms = self.schema.analyzer(field).term_ids(words)
        n = self.num_rows
        mask = np.zeros(n, dtype=bool)
        if len(terms) and n:
            indptr, indices, _ = self._tokens(field).csr
            hit = np.isin(indices[: indptr[n]], terms)
            rows = np.repeat(np.arange(n), np.diff(indptr[: n + 1]))
            mask[rows[hit]] = True
        return mask

    def _tokens(self, field: str) -> SparseColumn:
        """The analysed terms of a VARCHAR field's rows (a BM25 field's, if one is
        computed from it; else built here once and extended as rows arrive)."""
        for name, fn in self.schema.functions_by_output.items():
            if fn.kind is FunctionType.BM25 and fn.input == field:
                return self.sparse[name]
        with self._cache_lock:
            col = self._token_columns.setdefault(field, SparseColumn(index_dtype=np.uint64))
            n = self.num_rows
            if len(col) < n:
                analyzer = self.schema.analyzer(field)
                texts = self.columns[field].view[len(col) : n].tolist()
                col.append([analyzer.term_counts(t) for t in texts])
            return col

    def entities(
        self,
        offsets: Sequence[int] | np.ndarray,
        fields: Sequence[str],
        dynamic_keys: str | Sequence[str],
    ) -> list[dict[str, Any]]:
        """The requested fields of rows at ``offsets``, as dicts.

        Args:
            offsets: row offsets.
            fields: declared fields to return (vectors as lists of floats).
            dynamic_keys: ``"*"`` for every dynamic key, or a list of keys.
        """
        idx = np.asarray(offsets, dtype=np.int64)
        out: list[dict[str, Any]] = [{} for _ in range(len(idx))]
        for name in fields:
            if name in self.columns:
                values = self.columns[name].view[idx].tolist()
                if name in self._copied:  # JSON and ARRAY: hand out copies, never ours
                    values = [copy_value(v) for v in values]
                if name in self.nulls:
                    null = self.nulls[name].view[idx]
                    values = [None if z else v for v, z in zip(values, null.tolist(), strict=True)]
            elif name in self.vectors:
                values = self.vectors[name].view[idx].tolist()
            else:
                values = self.sparse[name].rows(idx)
            for row, value in zip(out, values, strict=True):
                row[name] = value
        if self.dynamic is not None and dynamic_keys:
            dyn = self.dynamic.view[idx]
            for row, extra in zip(out, dyn, strict=True):
                if dynamic_keys == "*":
                    row.update((k, copy_value(v)) for k, v in extra.items())
                else:
                    row.update((k, copy_value(extra[k])) for k in dynamic_keys if k in extra)
        return out

    def rows_at(self, offsets: np.ndarray) -> RowBatch:
        """Rows at ``offsets`` as a batch (compaction re-inserts them)."""
        nulls = {}
        for name, col in self.nulls.items():
            mask = col.view[offsets]
            if mask.any():
                nulls[name] = mask
        return RowBatch(
            num_rows=len(offsets),
            pks=self.pks[offsets].tolist(),
            scalars={k: c.view[offsets] for k, c in self.columns.items()},
            nulls=nulls,
            vectors={k: c.take(offsets) for k, c in self.vectors.items()},  # read once
            sparse={k: c.rows(offsets) for k, c in self.sparse.items()},
            dynamic=None if self.dynamic is None else list(self.dynamic.view[offsets]),
        )

    def walked(self, field: str, k: int) -> HnswIndex | None:
        """The HNSW index an unfiltered search for ``k`` rows walks unplanned (a big
        indexed segment: past ``planner.exact_limit``), its graph built; else None."""
        index = self.indexes.get(field)
        num_live = len(self.deleted) - self.num_deleted
        if type(index) is not HnswIndex or k >= num_live or num_live <= planner.WALK_ABOVE:
            return None
        self.build_graphs()  # only when the graph is walked: exact search needs none
        return index

    def search(
        self,
        field: str,
        queries: np.ndarray,
        k: int,
        metric: Metric,
        ef: int,
        selection: Selection | None,
        *,
        nprobe: int = planner.DEFAULT_NPROBE,
        refine_k: float | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` live rows per query, restricted to ``selection`` when given.

        ``ef`` is HNSW's beam; ``nprobe`` the IVF lists searched and ``refine_k``
        how many times ``k`` candidates a quantized IVF index re-ranks exactly.

        Returns:
            ``(offsets, distances)``, both (q, min(k, selected rows)), best first.
        """
        num_live = len(self.deleted) - self.num_deleted
        ef = ef if ef <= num_live else num_live  # a wider beam asks for more than it holds
        index = self.indexes.get(field)
        if isinstance(index, IvfIndex):
            return self._search_ivf(index, field, queries, k, metric, selection, nprobe, refine_k)
        walked = self.walked(field, k) if selection is None else None
        try:  # the common case, kept short (not contextlib.suppress: an object per search)
            if walked is not None:
                return walked.search(queries, k, ef)  # deleted rows are marked in the graph
        except IncompleteSearchError:
            pass
        q = queries.shape[0]
        live = num_live if selection is None else len(selection.rows)
        k = min(k, live)
        if k == 0:
            return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
        plan = planner.choose(
            has_index=index is not None,
            num_rows=num_live,
            num_allowed=live,
            k=k,
            ef=ef,
            dim=queries.shape[1],
            cached=selection is not None and selection.cacheable(self, field, metric),
        )
        if index is not None and plan.strategy is not planner.Strategy.EXACT:
            self.build_graphs()
            try:
                if plan.strategy is planner.Strategy.HNSW or selection is None:
                    return index.search(queries, k, ef)  # deleted rows are marked in the graph
                # Too few passed by chance? Then among 4x as many; still too few: the
                # filter is correlated with the vectors, and exact search answers.
                retry = min(num_live, planner.RETRY_WIDENING * plan.k)
                found = index.search_passing(
                    queries, k, plan.k, plan.ef, selection.mask, retry=retry
                )
                if found is not None:
                    return found
            except IncompleteSearchError:
                pass  # too few rows reachable in the graph: exact is both right and cheap
        return self._search_exact(field, queries, k, metric, selection or self.select(None))

    def search_sparse(
        self,
        field: str,
        queries: Sequence[SparseQuery],
        k: int,
        selection: Selection | None,
        scorers: Sequence[Scorer] | None = None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Best ``k`` live rows per query on a sparse field, by score.

        Returns:
            ``(offsets, scores)``, both (q, k); padded with -1 / -inf where
            fewer rows share a term with the query.
        """
        allowed = self.live_mask() if selection is None else selection.mask
        return self.sparse[field].search(queries, k, allowed, scorers)

    def _search_ivf(
        self,
        index: IvfIndex,
        field: str,
        queries: np.ndarray,
        k: int,
        metric: Metric,
        selection: Selection | None,
        nprobe: int,
        refine_k: float | None,
    ) -> tuple[np.ndarray, np.ndarray]:
        """IVF search: deleted and filtered-out rows are skipped inside the lists;
        a filter that keeps a fraction of the rows probes 1/fraction more lists
        (few passing rows: exact search). Quantized distances are re-ranked."""
        num_live = self.num_live
        live = num_live if selection is None else len(selection.rows)
        k = min(k, live)
        q = queries.shape[0]
        if k == 0:
            return np.empty((q, 0), dtype=np.int64), np.empty((q, 0), dtype=np.float32)
        if selection is not None and live <= max(k, planner.exact_limit(num_live)):
            return self._search_exact(field, queries, k, metric, selection)
        allowed = None
        if selection is not None:
            allowed = selection.mask
            nprobe = int(np.ceil(nprobe * num_live / live))
        elif self.num_deleted:
            allowed = self.live_mask()
        factor = 1.0 if index.exact else (refine_k or planner.DEFAULT_REFINE[index.index_type])
        wanted = min(live, max(k, int(np.ceil(k * factor))))
        labels, dist = index.search(queries, wanted, nprobe, allowed)
        if (labels[:, :k] < 0).any():  # the probed lists held too few rows: probe them all
            labels, dist = index.search(queries, wanted, index.nlist, allowed)
        if index.exact:
            return labels[:, :k], dist[:, :k]
        return rerank(np.asarray(self.vectors[field].view), queries, labels, k, metric)

    def _search_exact(
        self, field: str, queries: np.ndarray, k: int, metric: Metric, selection: Selection
    ) -> tuple[np.ndarray, np.ndarray]:
        centre = selection.centre(self, field, metric)  # (L2's: see flat.ip_rows)
        ip = flat.ip_queries(queries, metric, centre)  # the selection keeps flat.ip_rows
        if selection.cacheable(self, field, metric):
            vectors = selection.vectors(self, field, metric)
            found_rows, score = flat.top_k(ip, vectors, k, Metric.IP)
        else:  # too big to keep gathered: a chunk of rows in memory at a time
            chunks = selection.vector_chunks(self, field, metric)
            found_rows, score = flat.top_k_chunked(ip, chunks, k, Metric.IP)
        return selection.rows[found_rows], flat.ip_distances(ip, score, metric)
