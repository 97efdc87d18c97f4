"""``kestrel info`` and ``kestrel compact``."""

from __future__ import annotations

import os
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

import click

from ..client import Client
from ..collection import Collection
from ..schema import Schema
from ._common import (
    Interrupts,
    dir_bytes,
    dumps,
    field_flags,
    get_collection,
    human_bytes,
    open_store,
    require_store,
    table,
    type_label,
)


def log_bytes(folder: str) -> int:
    """Bytes of a collection folder's write-ahead log files (``wal.*.log``)."""
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        return 0
    total = 0
    for name in names:
        if name.startswith("wal.") and name.endswith(".log"):
            with suppress(FileNotFoundError):
                total += os.path.getsize(os.path.join(folder, name))
    return total


def collection_info(col: Collection, folder: str) -> dict[str, Any]:
    """Everything ``kestrel info`` reports on one collection, as plain data."""
    stats = col.stats()
    described = col.describe()
    fields = []
    for f in col.schema.fields:
        entry = f.to_dict()
        entry.pop("dtype")
        fields.append({"name": f.name, "type": f.dtype.name, **entry})
    return {
        "name": col.name,
        "row_count": stats["row_count"],
        "deleted_rows": stats["deleted_rows"],
        "partitions": stats["partitions"],
        "fields": fields,
        "dynamic_fields": col.schema.enable_dynamic_field,
        "indexes": described["indexes"],
        "functions": described["schema"]["functions"],
        "segments": {
            "total": stats["segments"],
            "sealed": stats["sealed_segments"],
            "growing": stats["segments"] - stats["sealed_segments"],
        },
        "disk_bytes": dir_bytes(folder),
        "log_bytes": log_bytes(folder),
    }


def _selected(db: Client, names: Sequence[str]) -> list[str]:
    """``names`` (each must exist), or every collection."""
    for name in names:
        get_collection(db, name)  # a missing one: an error naming those there are
    return list(dict.fromkeys(names)) or db.list_collections()


def _function_line(fn: dict[str, Any]) -> str:
    line = f"{fn['name']}: {fn['type']} {fn['input']} -> {fn['output']}"
    if fn["type"] == "BM25":
        return f"{line} (k1={fn['k1']:g}, b={fn['b']:g})"
    provider = dict(fn.get("provider", {}))
    name = provider.pop("name", "?")
    options = ", ".join(f"{k}={dumps(v)}" for k, v in provider.items())
    return f"{line} ({name}{': ' + options if options else ''})"


def render_collection(info: dict[str, Any], schema: Schema) -> str:
    """One collection's block of ``kestrel info`` (``info`` from ``collection_info``)."""
    segments = info["segments"]
    deleted = ""
    if info["deleted_rows"]:
        deleted = f" ({info['deleted_rows']:,} deleted, not yet compacted)"
    sections: list[tuple[str, list[str]]] = [
        ("rows", [f"{info['row_count']:,}{deleted}"]),
        ("partitions", [", ".join(f"{p} ({n:,})" for p, n in info["partitions"].items())]),
        (
            "segments",
            [f"{segments['total']} ({segments['sealed']} sealed, {segments['growing']} growing)"],
        ),
        (
            "disk",
            [
                f"{human_bytes(info['disk_bytes'])} ({info['disk_bytes']:,} bytes; "
                f"write-ahead log {human_bytes(info['log_bytes'])})"
            ],
        ),
        ("fields", _field_lines(schema)),
        (
            "indexes",
            [
                f"{i['field']}: {i['index_type']}"
                + (f" {i['metric']}" if i["metric"] else "")
                + "".join(f" {k}={v}" for k, v in i["params"].items())
                for i in info["indexes"]
            ],
        ),
        ("functions", [_function_line(fn) for fn in info["functions"]] or ["none"]),
    ]
    lines = [info["name"]]
    for title, body in sections:
        for n, text in enumerate(body):
            lines.append(f"  {title if n == 0 else '':<11} {text}".rstrip())
    return "\n".join(lines)


def _field_lines(schema: Schema) -> list[str]:
    rows = [[f.name, type_label(f), ", ".join(field_flags(f))] for f in schema.fields]
    lines = table(["", "", ""], rows).splitlines()[1:]
    return lines + (["+ dynamic fields"] if schema.enable_dynamic_field else [])


@click.command("info")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collections", nargs=-1, metavar="[COLLECTION]...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def info_command(path: str, collections: tuple[str, ...], as_json: bool) -> None:
    """Describe the store at PATH: per collection (all, or those named), the row
    count, partitions, segments, disk use, fields (name, type), indexes (type,
    metric, parameters) and functions (BM25, TextEmbedding and its provider).

    The store is opened read-only: this works while another process writes.

    \b
    JSON (--json): {"path", "disk_bytes", "collections": [{"name", "row_count",
    "deleted_rows", "partitions": {name: rows}, "fields": [{"name", "type", ...}],
    "dynamic_fields", "indexes": [{"field", "index_type", "metric", "params"}],
    "functions": [...], "segments": {"total", "sealed", "growing"}, "disk_bytes",
    "log_bytes"}]}.
    """
    with open_store(path, write=False) as db:
        infos, schemas = [], []
        everything = len(db.list_collections())
        for name in _selected(db, collections):
            col = db.get_collection(name)
            infos.append(collection_info(col, os.path.join(path, name)))
            schemas.append(col.schema)
    total = dir_bytes(path)
    if as_json:
        document = {"path": os.path.abspath(path), "disk_bytes": total, "collections": infos}
        click.echo(dumps(document, indent=2))
        return
    click.echo(
        f"store {os.path.abspath(path)}: {everything} collection{'s' * (everything != 1)}, "
        f"{human_bytes(total)} on disk"
    )
    for info, schema in zip(infos, schemas, strict=True):
        click.echo()
        click.echo(render_collection(info, schema))


@click.command("compact")
@click.argument("path", type=click.Path(file_okay=False))
@click.argument("collections", nargs=-1, metavar="[COLLECTION]...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of text.")
def compact_command(path: str, collections: tuple[str, ...], as_json: bool) -> None:
    """Compact collections of the store at PATH (all, or those named): rewrite
    segments without their deleted rows, merge small segments, flush, and print
    the disk use before and after.

    Needs the writer lock: fails if another process has the store open for
    writing.

    \b
    JSON (--json): {"collections": [{"name", "deleted_rows", "segments_before",
    "segments_after", "bytes_before", "bytes_after"}], "bytes_before", "bytes_after"}.
    """
    require_store(path)
    before_total = dir_bytes(path)
    before = {}
    results = []
    with Interrupts("collection") as interrupts, open_store(path, write=True) as db:
        names = _selected(db, collections)
        for name in names:
            before[name] = dir_bytes(os.path.join(path, name))
        for name in names:
            interrupts.check()
            col = db.get_collection(name)
            stats = col.stats()
            col.compact()
            col.flush()
            results.append(
                {
                    "name": name,
                    "deleted_rows": stats["deleted_rows"],
                    "segments_before": stats["segments"],
                    "segments_after": col.stats()["segments"],
                    "bytes_before": before[name],
                }
            )
    for result in results:
        result["bytes_after"] = dir_bytes(os.path.join(path, str(result["name"])))
    after_total = dir_bytes(path)
    if as_json:
        document = {"collections": results, "bytes_before": before_total}
        click.echo(dumps({**document, "bytes_after": after_total}, indent=2))
        return
    rows = [
        [
            str(r["name"]),
            human_bytes(r["bytes_before"]),
            human_bytes(r["bytes_after"]),
            f"{r['deleted_rows']:,}",
            f"{r['segments_before']} -> {r['segments_after']}",
        ]
        for r in results
    ]
    rows.append(["(store)", human_bytes(before_total), human_bytes(after_total), "", ""])
    click.echo(table(["collection", "before", "after", "deleted rows dropped", "segments"], rows))


__all__ = ["collection_info", "compact_command", "info_command", "render_collection"]
