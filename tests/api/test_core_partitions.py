"""Partitions of the embedded engine's durable store. Every backend-agnostic
partition test is in ``tests/conformance/test_backend_partitions.py``."""

from __future__ import annotations


def test_partition_order_survives_reopen(disk_stores):
    db = disk_stores.connect()
    col = db.create_collection("c", dimension=4, partitions=["zeta", "alpha"])
    assert col.list_partitions() == ["_default", "zeta", "alpha"]
    db = disk_stores.reopen(db)
    assert db.get_collection("c").list_partitions() == ["_default", "zeta", "alpha"]
