"""pymilvus's ``utility`` functions on a Kestrel connection (``using`` names
the ``connections`` alias). Kestrel loads and indexes synchronously, so the
``wait_for_*`` calls return at once and progress is always complete."""

from __future__ import annotations

from typing import Any

from ._session import Session, server_version
from .connections import DEFAULT_ALIAS, connections
from .exceptions import COLLECTION_NOT_FOUND, MilvusException, milvus_errors
from .results import LoadState

NOT_EMBEDDED = "is a Milvus cluster feature that the embedded engine does not have"


def _session(using: str) -> Session:
    return connections._fetch(using)


def has_collection(
    collection_name: str, using: str = DEFAULT_ALIAS, timeout: float | None = None
) -> bool:
    return bool(milvus_errors(_session(using).client.has_collection)(collection_name))


def list_collections(
    timeout: float | None = None, using: str = DEFAULT_ALIAS, **kwargs: Any
) -> list[str]:
    names: list[str] = milvus_errors(_session(using).client.list_collections)()
    return names


def drop_collection(
    collection_name: str, timeout: float | None = None, using: str = DEFAULT_ALIAS
) -> None:
    session = _session(using)
    milvus_errors(session.client.drop_collection)(collection_name)
    session.forget(collection_name)


def rename_collection(
    old_collection_name: str,
    new_collection_name: str,
    new_db_name: str = "",
    timeout: float | None = None,
    using: str = DEFAULT_ALIAS,
) -> None:
    if new_db_name not in ("", "default"):
        raise MilvusException(
            message=f"moving a collection to database {new_db_name!r} {NOT_EMBEDDED}"
        )
    session = _session(using)
    milvus_errors(session.client.rename_collection)(old_collection_name, new_collection_name)
    session.renamed(old_collection_name, new_collection_name)


def has_partition(
    collection_name: str,
    partition_name: str,
    using: str = DEFAULT_ALIAS,
    timeout: float | None = None,
) -> bool:
    col = milvus_errors(_session(using).client.get_collection)(collection_name)
    return bool(milvus_errors(col.has_partition)(partition_name))


def load_state(
    collection_name: str,
    partition_names: list[str] | None = None,
    using: str = DEFAULT_ALIAS,
    timeout: float | None = None,
) -> LoadState:
    session = _session(using)
    if not milvus_errors(session.client.has_collection)(collection_name):
        return LoadState.NotExist
    return LoadState.NotLoad if collection_name in session.released else LoadState.Loaded


def loading_progress(
    collection_name: str,
    partition_names: list[str] | None = None,
    using: str = DEFAULT_ALIAS,
    timeout: float | None = None,
) -> dict[str, str]:
    state = load_state(collection_name, partition_names, using)
    if state is LoadState.NotExist:
        raise MilvusException(
            COLLECTION_NOT_FOUND, f"collection not found[collection={collection_name}]"
        )
    return {"loading_progress": "100%" if state is LoadState.Loaded else "0%"}


def wait_for_loading_complete(
    collection_name: str,
    partition_names: list[str] | None = None,
    timeout: float | None = None,
    using: str = DEFAULT_ALIAS,
) -> None:
    loading_progress(collection_name, partition_names, using)


def index_building_progress(
    collection_name: str,
    index_name: str = "",
    using: str = DEFAULT_ALIAS,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Rows in the HNSW graphs, and those waiting for them: Kestrel adds rows to
    a graph when a search first walks it or at ``flush`` (which
    ``wait_for_index_building_complete`` runs). Every row is searchable either
    way (rows outside a graph are scanned exactly)."""
    col = milvus_errors(_session(using).client.get_collection)(collection_name)
    stats = milvus_errors(col.stats)()
    total, pending = stats["row_count"], stats["unindexed_rows"] or 0
    return {
        "total_rows": total,
        "indexed_rows": total - pending,
        "pending_index_rows": pending,
        "state": "InProgress" if pending else "Finished",
    }


def wait_for_index_building_complete(
    collection_name: str,
    index_name: str = "",
    timeout: float | None = None,
    using: str = DEFAULT_ALIAS,
) -> bool:
    """Build what is pending (a ``flush``: the graphs, and sealing the rows into
    segments), so the searches after this call do not pay for it."""
    col = milvus_errors(_session(using).client.get_collection)(collection_name)
    if milvus_errors(col.stats)()["unindexed_rows"]:
        milvus_errors(col.flush)()
    return True


def list_indexes(
    collection_name: str, using: str = DEFAULT_ALIAS, timeout: float | None = None, **kwargs: Any
) -> list[str]:
    col = milvus_errors(_session(using).client.get_collection)(collection_name)
    field = kwargs.get("field_name", "")
    return [i.field for i in col.indexes if not field or i.field == field]


def flush_all(using: str = DEFAULT_ALIAS, timeout: float | None = None, **kwargs: Any) -> None:
    client = _session(using).client
    for name in milvus_errors(client.list_collections)():
        milvus_errors(client.get_collection(name).flush)()


def get_server_version(using: str = DEFAULT_ALIAS, timeout: float | None = None) -> str:
    return server_version(_session(using))


def get_server_type(using: str = DEFAULT_ALIAS) -> str:
    return "milvus" if getattr(_session(using).client, "server_version", None) else "kestrel"


def list_aliases(
    collection_name: str, timeout: float | None = None, using: str = DEFAULT_ALIAS
) -> list[str]:
    return []


def _unsupported(name: str) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        raise MilvusException(message=f"utility.{name} {NOT_EMBEDDED}")

    call.__name__ = name
    call.__doc__ = f"Not on Kestrel: ``{name}`` {NOT_EMBEDDED}."
    return call


# aliases, bulk insert, users, roles and resource groups: a clear error each
create_alias = _unsupported("create_alias")
drop_alias = _unsupported("drop_alias")
alter_alias = _unsupported("alter_alias")
do_bulk_insert = _unsupported("do_bulk_insert")
create_user = _unsupported("create_user")
delete_user = _unsupported("delete_user")
reset_password = _unsupported("reset_password")
update_password = _unsupported("update_password")
list_usernames = _unsupported("list_usernames")
create_resource_group = _unsupported("create_resource_group")
drop_resource_group = _unsupported("drop_resource_group")
list_resource_groups = _unsupported("list_resource_groups")
transfer_node = _unsupported("transfer_node")
transfer_replica = _unsupported("transfer_replica")
load_balance = _unsupported("load_balance")

__all__ = [
    "drop_collection",
    "flush_all",
    "get_server_type",
    "get_server_version",
    "has_collection",
    "has_partition",
    "index_building_progress",
    "list_aliases",
    "list_collections",
    "list_indexes",
    "load_state",
    "loading_progress",
    "rename_collection",
    "wait_for_index_building_complete",
    "wait_for_loading_complete",
]
