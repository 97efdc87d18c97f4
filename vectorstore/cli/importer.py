"""``kestrel import``: rows from JSONL, CSV or Parquet into a collection."""

from __future__ import annotations

import os
import re
import shutil
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import click

from ..client import Client
from ..collection import DEFAULT_PARTITION, Collection
from ..embeddings.base import EmbeddingProvider
from ..errors import VectorStoreError
from ..functions import BM25, TextEmbedding
from ..schema import MAX_DIM, Schema
from ..types import DataType
from ._common import CliError, Interrupts, count_rows, describe_error, note, open_store, type_label
from .formats import FORMATS, format_of
from .progress import ImportProgress, embed_ahead, import_progress
from .providers import parse_provider
from .readers import Record, RowConverter, Source, infer_cell, open_source

METRICS = ("COSINE", "IP", "L2")
_ENGINE_ROW = re.compile(r"row (\d+)(?:, |: )")


# --------------------------------------------------------------------- import
@dataclass
class ImportOptions:
    """The options of ``kestrel import`` that shape or map the collection."""

    dimension: int | None
    provider: EmbeddingProvider | None
    embedding_spec: str | None
    metric: str | None
    id_field: str | None
    text_field: str | None
    vector_field: str | None
    id_type: str | None
    auto_id: bool


def _raw(record: Record, key: str) -> Any:
    value = record.values.get(key)
    if record.text_cells and isinstance(value, str):
        return None if value == "" else infer_cell(value)
    return value


def _create(
    db: Client, name: str, first: Record | None, source: Source, opts: ImportOptions
) -> tuple[Collection, str]:
    """Create the collection by the quick setup, from the options and the first record.

    Returns:
        The collection and the note that describes it, which the import prints
        once the first batch is in (a failed first batch drops the collection
        again, and the note would then be untrue).
    """
    id_field = opts.id_field or "id"
    vector_field = opts.vector_field or "vector"
    if opts.text_field and opts.provider is None:
        raise click.BadParameter(
            "names the text to embed: a new collection needs --embedding with it",
            param_hint="--text-field",
        )
    id_type = "int" if opts.auto_id else opts.id_type
    if id_type in (None, "auto"):
        value = None if first is None else _raw(first, id_field)
        if first is not None and value is None:
            raise CliError(
                f"{source.where(first.position)} has no {id_field!r} value to take as the "
                "primary key: name the key column with --id-field, or pass --auto-id"
            )
        id_type = "str" if isinstance(value, str) else "int"
    dimension = opts.dimension
    if dimension is None and opts.provider is None:
        vector = None if first is None else _raw(first, vector_field)
        if not isinstance(vector, list) or not vector:
            where = (
                f"{source.label} has no rows"
                if first is None
                else (f"{source.where(first.position)} has no {vector_field!r} vector")
            )
            raise CliError(
                f"collection {name!r} does not exist and {where} to take its dimension from: "
                "pass --dimension N (rows bring vectors) or --embedding PROVIDER (text is "
                "embedded), or name the vector column with --vector-field"
            )
        dimension = len(vector)
    col = db.create_collection(
        name,
        dimension,
        metric=opts.metric or "COSINE",
        primary_field=id_field,
        id_type=id_type,
        vector_field=vector_field,
        auto_id=opts.auto_id,
        embedding=opts.provider,
        text_field=opts.text_field or "text",
    )
    fields = ", ".join(f"{f.name} {type_label(f)}" for f in col.schema.fields)
    index = col.indexes[0]
    embedded = (
        f"; {opts.text_field or 'text'} embedded by {opts.embedding_spec}"
        if (opts.provider is not None)
        else ""
    )
    described = (
        f"created collection {name!r}: {fields}, dynamic fields; {index.index_type} "
        f"{index.vector_metric.value}{embedded}"
    )
    return col, described


def _dense_fields(schema: Schema) -> list[str]:
    return [f.name for f in schema.fields if f.dtype is DataType.FLOAT_VECTOR]


def _check_existing(col: Collection, opts: ImportOptions) -> dict[str, str]:
    """Check the creation options against an existing collection; return the column
    renames that ``--id-field`` / ``--vector-field`` / ``--text-field`` ask for."""
    schema = col.schema
    pk = schema.primary
    if opts.auto_id and not pk.auto_id:
        raise CliError(f"collection {col.name!r} exists and its keys are not generated (auto_id)")
    wanted = {"int": DataType.INT64, "str": DataType.VARCHAR}.get(opts.id_type or "auto")
    if wanted is not None and wanted is not pk.dtype:
        raise CliError(f"collection {col.name!r} exists with a {pk.dtype.name} primary key")
    dense = _dense_fields(schema)
    target = (
        opts.vector_field if opts.vector_field in dense else (dense[0] if len(dense) == 1 else None)
    )
    if opts.dimension is not None and (target is None or schema[target].dim != opts.dimension):
        dims = {name: schema[name].dim for name in dense}
        raise CliError(f"collection {col.name!r} exists with vector dimensions {dims}")
    if opts.metric is not None:
        metrics = {i.field: i.vector_metric.value for i in col.indexes if i.field in dense}
        if target is None or metrics.get(target) != opts.metric.upper():
            raise CliError(f"collection {col.name!r} exists with metrics {metrics}")
    if opts.provider is not None:
        configs = [dict(fn.config) for fn in schema.functions if isinstance(fn, TextEmbedding)]
        if opts.provider.config() not in configs:
            have = f"embeds text with {configs}" if configs else "has no TextEmbedding function"
            raise CliError(
                f"collection {col.name!r} exists and {have}; --embedding only sets up a "
                "collection the import creates"
            )
    renames: dict[str, str] = {}
    if opts.id_field and opts.id_field != pk.name:
        _rename(renames, schema, opts.id_field, pk.name, "primary key")
    if opts.vector_field and opts.vector_field not in schema.names:
        if len(dense) != 1:
            raise CliError(f"--vector-field: collection {col.name!r} has vector fields {dense}")
        _rename(renames, schema, opts.vector_field, dense[0], "vector field")
    if opts.text_field and opts.text_field not in schema.names:
        functions = [fn for fn in schema.functions if isinstance(fn, (TextEmbedding, BM25))]
        inputs = sorted({fn.input for fn in functions})
        if len(inputs) != 1:
            raise CliError(
                f"--text-field: collection {col.name!r} has no single text field to map "
                f"{opts.text_field!r} to (text inputs: {inputs})"
            )
        _rename(renames, schema, opts.text_field, inputs[0], "text field")
    return renames


def _rename(renames: dict[str, str], schema: Schema, column: str, target: str, what: str) -> None:
    if column in schema.names:
        raise CliError(f"{column!r} is a field of the collection, not its {what} ({target!r})")
    renames[column] = target


class _Import:
    """One import run: reads batches, creates the collection on the first, inserts.

    Args:
        db: the writable client.
        name: the collection.
        source: the file.
        opts: the options that shape or map the collection.
        partition, upsert, batch_size: as the command's options.
        interrupts: Ctrl-C, checked between records.
    """

    def __init__(
        self,
        db: Client,
        name: str,
        source: Source,
        opts: ImportOptions,
        *,
        partition: str,
        upsert: bool,
        batch_size: int,
        interrupts: Interrupts,
    ):
        self.db = db
        self.interrupts = interrupts
        self.name = name
        self.source = source
        self.opts = opts
        self.partition = partition
        self.upsert = upsert
        self.batch_size = batch_size
        self.col: Collection | None = None
        self.converter: RowConverter | None = None
        self.created = False
        self.imported = 0
        self.progress: ImportProgress | None = None
        self.held_notes: list[str] = []  # about a created collection: shown once it holds rows

    def run(self, show_progress: bool) -> None:
        """Import every batch; an error says what it left behind.

        Raises:
            CliError: a record, a batch or the collection setup failed; the
                message names the line and what was (not) imported.
            click.Abort: interrupted (finished batches stay imported).
        """
        pending: list[Record] = []
        try:
            with import_progress(self.source, show_progress, f"importing {self.name}") as bar:
                self.progress = bar
                for record in self.source.records():
                    self.interrupts.check()
                    pending.append(record)
                    if len(pending) >= self.batch_size:
                        self.flush(pending)
                        pending = []
                self.flush(pending, last=True)
                pending = []
        except CliError as exc:
            raise CliError(f"{exc.message} ({self.abandon(pending)})") from None
        except KeyboardInterrupt:
            note(f"interrupted: {count_rows(self.imported)} imported (finished batches stay)")
            raise click.Abort() from None

    def flush(self, batch: list[Record], last: bool = False) -> None:
        """Insert one batch, opening (or creating) the collection first if needed."""
        if self.col is None:
            if not batch and not last:
                return
            self.col = self.open_collection(batch[0] if batch else None)
            if not self.col.has_partition(self.partition):
                self.col.create_partition(self.partition)
                self.tell(f"created partition {self.partition!r}")
        if batch:
            assert self.converter is not None
            rows = [self.converter.row(record, self.source) for record in batch]
            write = self.col.upsert if self.upsert else self.col.insert
            advance = self.progress.advance if self.progress else lambda done, of: None
            try:
                embed_ahead(self.col.schema, rows, advance)
                write(rows, partition=self.partition, progress=False)
            except VectorStoreError as exc:
                raise CliError(self.locate(batch, exc)) from None
            self.imported += len(rows)
            if self.progress:
                self.progress.written(self.imported)
        for held in self.held_notes:  # the collection holds this batch (or the file is empty)
            note(held)
        self.held_notes = []

    def tell(self, message: str) -> None:
        """A note now, or (about a collection this run created) once it holds rows."""
        if self.created:
            self.held_notes.append(message)
        else:
            note(message)

    def open_collection(self, first: Record | None) -> Collection:
        """The collection, checked against the options; created if missing."""
        if self.db.has_collection(self.name):
            col = self.db.get_collection(self.name)
            self.converter = RowConverter(col.schema, _check_existing(col, self.opts))
            if self.opts.provider is not None:  # the same config: embed with the one given
                for fn in col.schema.functions:
                    if isinstance(fn, TextEmbedding):
                        fn.attach(self.opts.provider)
            verb = "upserting into" if self.upsert else "adding to"
            note(f"{verb} existing collection {self.name!r} ({count_rows(col.count())})")
            return col
        col, described = _create(self.db, self.name, first, self.source, self.opts)
        self.created = True
        self.held_notes.append(described)
        self.converter = RowConverter(col.schema)
        return col

    def locate(self, batch: list[Record], exc: VectorStoreError) -> str:
        """The engine's message, with its "row i" of the batch made a line of the file."""
        message = describe_error(exc).replace(
            "use upsert() to replace a row", "pass --upsert to replace existing rows"
        )
        found = _ENGINE_ROW.match(message)
        if found and int(found[1]) < len(batch):
            where = self.source.where(batch[int(found[1])].position)
            return f"{where}: {message[found.end() :]}"
        first, last = batch[0].position, batch[-1].position
        return f"{self.source.label} {self.source.unit}s {first}-{last}: {message}"

    def abandon(self, pending: Sequence[Record]) -> str:
        """After an error: drop a collection this run created but filled with nothing;
        say what was (not) imported."""
        if self.imported == 0:
            if self.created:
                self.db.drop_collection(self.name)
                return f"nothing was imported; collection {self.name!r} was not created"
            return "nothing was imported"
        start = f" from {self.source.unit} {pending[0].position}" if pending else ""
        before = count_rows(self.imported)
        were = "was" if self.imported == 1 else "were"
        return f"the batch{start} was not imported; the {before} before it {were}"


@click.command("import")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collection")
@click.argument("file", type=click.Path(dir_okay=False, allow_dash=True))
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    help=(
        "File format. Default: from FILE's extension (.jsonl/.ndjson, .csv/.tsv, .parquet/.pq, "
        "each also .gz except Parquet); JSONL for '-' (stdin)."
    ),
)
@click.option(
    "--batch-size",
    type=click.IntRange(1, 1_000_000),
    default=1000,
    show_default=True,
    help="Rows per insert call: each batch is all-or-nothing.",
)
@click.option(
    "--upsert",
    is_flag=True,
    help="Replace rows whose primary key exists (default: an existing key is an error).",
)
@click.option(
    "--partition",
    default=DEFAULT_PARTITION,
    show_default=True,
    help="Partition to import into (created if missing).",
)
@click.option(
    "--progress/--no-progress",
    default=None,
    help="Show a progress bar on stderr. Default: when stderr is a terminal.",
)
@click.option("--delimiter", metavar="CHAR", help="CSV delimiter. Default: ',' (tab for .tsv).")
@click.option(
    "--dimension",
    type=click.IntRange(1, MAX_DIM),
    help="New collection: vector dimension (default: the first row's vector length).",
)
@click.option(
    "--embedding",
    "embedding_spec",
    metavar="PROVIDER",
    help=(
        "New collection: embed the text field with PROVIDER: hash[:DIM], openai[:MODEL], "
        "sentence-transformers[:MODEL_OR_PATH], or a JSON provider config."
    ),
)
@click.option(
    "--metric",
    type=click.Choice(METRICS, case_sensitive=False),
    metavar="[COSINE|IP|L2]",
    help="New collection: HNSW metric.  [default: COSINE]",
)
@click.option(
    "--id-field",
    metavar="NAME",
    help=(
        "Column of the primary key [default: id]. A new collection names its key NAME; "
        "an existing one takes column NAME as its key."
    ),
)
@click.option(
    "--text-field",
    metavar="NAME",
    help=("Column of the text to embed [default: text] (as --id-field)."),
)
@click.option(
    "--vector-field",
    metavar="NAME",
    help=("Column of the vectors [default: vector] (as --id-field)."),
)
@click.option(
    "--id-type",
    type=click.Choice(["auto", "int", "str"]),
    help=("New collection: key type. auto: from the first row's key.  [default: auto]"),
)
@click.option(
    "--auto-id", is_flag=True, help="New collection: generate INT64 keys (rows bring none)."
)
def import_command(
    path: str,
    collection: str,
    file: str,
    fmt: str | None,
    batch_size: int,
    upsert: bool,
    partition: str,
    progress: bool | None,
    delimiter: str | None,
    dimension: int | None,
    embedding_spec: str | None,
    metric: str | None,
    id_field: str | None,
    text_field: str | None,
    vector_field: str | None,
    id_type: str | None,
    auto_id: bool,
) -> None:
    """Import rows from FILE (JSONL, CSV or Parquet; '-' reads JSONL from stdin) into
    COLLECTION of the store at PATH, creating the store and the collection if missing.

    \b
    JSONL: one JSON object per line, keys are field names; blank lines are skipped.
    CSV: a header of field names. Cells of declared fields are read by type
      (integers, numbers, true/false/1/0/yes/no, text as is; JSON, ARRAY and
      vector cells hold JSON text such as [0.1, 0.2]). Cells of other columns
      are JSON when they are a JSON number, true/false, an array or an object,
      and text otherwise (007, 1,5, NaN stay text). An empty cell is a missing
      value (an empty string in a VARCHAR field that takes no null).
    Parquet (needs pyarrow): columns are fields; JSON fields and sparse vectors
      may be JSON text; a $meta column of JSON objects holds dynamic fields.

    \b
    A new collection gets the quick setup: the key (--id-field, --id-type or
    --auto-id), a FLOAT_VECTOR field (--vector-field, --dimension) with an HNSW
    index (--metric), dynamic fields for every other column, and with
    --embedding a text field (--text-field) embedded into the vector field.

    Rows go in batches (--batch-size), each all-or-nothing: an error names the
    line (or Parquet row) and stops the import; earlier batches stay imported.
    Prints the number of rows imported.

    \b
    Examples:
      kestrel import ./db docs docs.jsonl --embedding hash:64
      kestrel import ./db docs vectors.parquet --upsert --progress
    """
    started = time.perf_counter()
    fmt = format_of(file, fmt)
    if delimiter is not None and (fmt != "csv" or len(delimiter) != 1):
        raise click.BadParameter("takes one character, for CSV files", param_hint="--delimiter")
    if auto_id and id_type not in (None, "auto", "int"):
        raise click.BadParameter("generated keys are integers", param_hint="--id-type")
    provider = parse_provider(embedding_spec) if embedding_spec else None
    opts = ImportOptions(
        dimension=dimension,
        provider=provider,
        embedding_spec=embedding_spec,
        metric=metric,
        id_field=id_field,
        text_field=text_field,
        vector_field=vector_field,
        id_type=id_type,
        auto_id=auto_id,
    )
    source = open_source(file, fmt, batch_size=batch_size, delimiter=delimiter)
    new_store = not os.path.exists(path)
    try:
        with Interrupts("batch") as interrupts, open_store(path, write=True, create=True) as db:
            run = _Import(
                db,
                collection,
                source,
                opts,
                partition=partition,
                upsert=upsert,
                batch_size=batch_size,
                interrupts=interrupts,
            )
            run.run(sys.stderr.isatty() if progress is None else progress)
    except BaseException:
        if new_store:
            _remove_empty_store(path)
        raise
    finally:
        source.close()
    seconds = time.perf_counter() - started
    verb = "upserted" if upsert else "imported"
    click.echo(f"{verb} {count_rows(run.imported)} into {collection!r} in {seconds:.1f} s")


def _remove_empty_store(path: str) -> None:
    """Remove a store this import created, if it failed before adding a collection."""
    try:
        with Client(path, read_only=True) as db:
            empty = not db.list_collections()
    except VectorStoreError:
        return
    if empty:
        shutil.rmtree(path, ignore_errors=True)


__all__ = ["ImportOptions", "import_command", "parse_provider"]
