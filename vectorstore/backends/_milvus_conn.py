"""``MilvusConnection``: one ``pymilvus.MilvusClient`` and the settings that the
Kestrel client holding it and every collection handle of that client share.

``MilvusBackendClient`` creates it; ``MilvusCollection`` gets it (not the client),
so the collection module does not import the client module back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..errors import IndexConfigError, StorageError, VectorStoreError
from ..index_spec import Index
from ..schema import Schema
from ._milvus_errors import SentFilter, milvus_errors
from ._milvus_rows import wait_until
from ._milvus_schema import PROPERTY, encode, index_spec
from ._milvus_version import ServerInfo, milvus_scalar_type


class MilvusConnection:
    """A pymilvus client (``mc``), the pymilvus module (``pm``), and the options
    of the Kestrel client that opened them.

    Attributes:
        uri: the URI the client was opened with.
        server: the Milvus at the other end and what its version can do.
        lite: whether it is Milvus Lite.
        read_only: writes are refused.
        consistency_level: of every read.
        timeout: seconds per request (None: no limit).
        closed: set when the client is closed (its collections then refuse calls).
    """

    def __init__(
        self,
        uri: str,
        mc: Any,
        pm: Any,
        *,
        server: ServerInfo,
        read_only: bool,
        consistency_level: str,
        timeout: float | None,
    ):
        self.uri = uri
        self.mc = mc
        self.pm = pm
        self.server = server
        self.lite = server.lite
        self.read_only = read_only
        self.consistency_level = consistency_level
        self.timeout = timeout
        self.closed = False

    def call(
        self,
        method: str,
        *args: Any,
        default: type[VectorStoreError] = StorageError,
        filters_sent: tuple[SentFilter, ...] = (),
        filter_schema: Schema | None = None,
        **kwargs: Any,
    ) -> Any:
        """``MilvusClient.<method>(...)`` with this connection's timeout; a Milvus
        error becomes Kestrel's (``default`` where no better one fits; a rejected
        filter among ``filters_sent`` is classified against ``filter_schema``)."""
        if self.timeout is not None:
            kwargs.setdefault("timeout", self.timeout)
        with milvus_errors(default, filters_sent, filter_schema):
            return getattr(self.mc, method)(*args, **kwargs)

    def build_indexes(self, name: str, schema: Schema, indexes: Sequence[Index]) -> None:
        """Create Milvus indexes and wait until they are built (pymilvus's own wait
        sleeps half a second per index; this one polls from a few milliseconds).

        Raises:
            IndexConfigError: Milvus refused an index, or failed to build it.
        """
        params = self.mc.prepare_index_params()
        for index in indexes:
            if index.is_scalar:  # no metric, no parameters
                kind = milvus_scalar_type(self.server, schema, index)
                params.add_index(field_name=index.field, index_type=kind, index_name=index.field)
                continue
            spec = index_spec(schema, index)
            # A server reads build parameters as flat keys; Milvus Lite only from a
            # nested "params" JSON (pymilvus sends a nested dict as one key).
            build = {"params": spec.params} if self.lite and spec.params else spec.params
            params.add_index(
                field_name=spec.field,
                index_type=spec.index_type,
                metric_type=spec.metric,
                params=build,
                index_name=spec.field,
            )
        self.call("create_index", name, params, sync=False, default=IndexConfigError)
        for index in indexes:

            def built(field: str = index.field) -> bool:
                info = self.call("describe_index", name, field, default=IndexConfigError) or {}
                if info.get("state") == "Failed":
                    raise IndexConfigError(
                        f"Milvus failed to build the index on {field!r}: "
                        f"{info.get('index_state_fail_reason', '')}"
                    )
                return bool(info.get("state", "Finished") == "Finished")

            wait_until(built, f"the index on {index.field!r}")

    def replace_index(
        self, name: str, schema: Schema, indexes: dict[str, Index], spec: Index
    ) -> None:
        """Rebuild one field's index of collection ``name``: Milvus builds on a
        released collection, so release, drop, create, load; if the new index
        fails, the old one is put back. ``indexes`` (the collection's, by field)
        and the collection's ``"kestrel"`` property are updated on success.

        Raises:
            IndexConfigError: Milvus refused or failed the index.
        """
        old = indexes.get(spec.field)
        self.call("release_collection", name, default=IndexConfigError)
        try:
            self._rebuild(name, schema, spec)
        except VectorStoreError:
            if old is not None:
                self._rebuild(name, schema, old)
            raise
        finally:
            self.call("load_collection", name, default=IndexConfigError)
        indexes[spec.field] = spec
        properties = {PROPERTY: encode(schema, list(indexes.values()))}
        self.call("alter_collection_properties", name, properties=properties)

    def drop_scalar_index(
        self, name: str, schema: Schema, indexes: dict[str, Index], field: str
    ) -> None:
        """Drop a scalar field's index (Milvus drops indexes of a released
        collection: release, drop, load) and record it in the ``"kestrel"``
        property."""
        self.call("release_collection", name, default=IndexConfigError)
        try:
            self._drop_field_indexes(name, field)
        finally:
            self.call("load_collection", name, default=IndexConfigError)
        del indexes[field]
        properties = {PROPERTY: encode(schema, list(indexes.values()))}
        self.call("alter_collection_properties", name, properties=properties)

    def _drop_field_indexes(self, name: str, field: str) -> None:
        names = self.call("list_indexes", name, field_name=field, default=IndexConfigError)
        for index_name in names or ():
            self.call("drop_index", name, index_name, default=IndexConfigError)

    def _rebuild(self, name: str, schema: Schema, spec: Index) -> None:
        self._drop_field_indexes(name, spec.field)
        self.build_indexes(name, schema, [spec])


__all__ = ["MilvusConnection"]
