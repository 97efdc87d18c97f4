"""Where a store's data lives, chosen by ``vectorstore.connect``'s URI.

- ``":memory:"`` or a directory path: the embedded engine (``vectorstore.client``).
- ``http://``, ``https://`` or ``tcp://``: a Milvus server (standalone,
  distributed or Zilliz Cloud) through ``pymilvus.MilvusClient``
  (``vectorstore.backends.milvus``).
- ``milvus-lite://<path>``: Milvus Lite, a local database file run in-process
  by pymilvus, for development and tests.

Both backends implement the same contract (``vectorstore.api``: ``ClientAPI``,
``CollectionAPI``) and neither imports the other; ``vectorstore.connect`` picks
one. The Milvus one needs the ``milvus`` extra (``pip install
"kestrel-vectorstore[milvus]"``).
"""

from __future__ import annotations

MILVUS_SCHEMES = ("http://", "https://", "tcp://")
LITE_SCHEME = "milvus-lite://"


def is_milvus_uri(uri: str) -> bool:
    """Whether ``uri`` names a Milvus server or a Milvus Lite file (not an embedded store).

    Example:
        >>> is_milvus_uri("http://localhost:19530"), is_milvus_uri("./data")
        (True, False)
    """
    return uri.startswith((*MILVUS_SCHEMES, LITE_SCHEME))


__all__ = ["LITE_SCHEME", "MILVUS_SCHEMES", "is_milvus_uri"]
