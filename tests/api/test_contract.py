"""The backend contract (``vectorstore.api``): every backend implements all of it,
with the same signatures, and none borrows from another.

``conforms`` is the check: for every member of a Protocol the implementation
has it, as a property where the Protocol has a property, and as a method with
the same parameters (names, kinds, defaults, annotations). The tests at the end
prove that it fails on an implementation that drifts.
"""

from __future__ import annotations

import ast
import inspect
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import vectorstore as vs
from vectorstore import api, checks
from vectorstore.backends._milvus_collection import MilvusCollection
from vectorstore.backends.milvus import MilvusBackendClient

PACKAGE = Path(vs.__file__).parent
# What typing.Protocol puts in a Protocol class's namespace besides the members.
PROTOCOL_MACHINERY = {"__init__", "__subclasshook__", "__class_getitem__", "__init_subclass__"}

PAIRS = [
    (api.ClientAPI, vs.Client),
    (api.ClientAPI, MilvusBackendClient),
    (api.CollectionAPI, vs.Collection),
    (api.CollectionAPI, MilvusCollection),
]


def members(protocol: type) -> dict[str, Any]:
    """The Protocol's members: its properties and methods (dunders included)."""
    out = {}
    for name, value in vars(protocol).items():
        if name in PROTOCOL_MACHINERY:
            continue
        if isinstance(value, property) or inspect.isfunction(value):
            out[name] = value
    return out


def conforms(protocol: type, impl: type) -> list[str]:
    """How ``impl`` differs from ``protocol`` (empty: it conforms)."""
    problems = []
    for name, wanted in members(protocol).items():
        found = inspect.getattr_static(impl, name, None)
        if found is None:
            problems.append(f"{name}: missing")
            continue
        if isinstance(wanted, property):
            if not isinstance(found, property):
                problems.append(f"{name}: not a property")
            continue
        if not callable(found) or isinstance(found, property):
            problems.append(f"{name}: not a method")
            continue
        ours = inspect.signature(wanted).parameters
        theirs = inspect.signature(found).parameters
        mine = [(p.name, p.kind, p.default, p.annotation) for p in ours.values()]
        impls = [(p.name, p.kind, p.default, p.annotation) for p in theirs.values()]
        if mine != impls:
            problems.append(f"{name}: parameters {impls} are not the contract's {mine}")
    return problems


def test_the_contract_has_the_whole_public_api() -> None:
    """Every public name of the embedded classes (today's API) is in the contract."""
    for protocol, engine in [(api.ClientAPI, vs.Client), (api.CollectionAPI, vs.Collection)]:
        public = {n for n in dir(engine) if not n.startswith("_")} | {"__len__", "__enter__"}
        public &= set(dir(engine))
        assert public <= set(members(protocol)), public - set(members(protocol))
    assert {"insert", "search", "hybrid_search", "name", "schema"} <= set(
        members(api.CollectionAPI)
    )
    assert {"create_collection", "close", "__enter__", "__exit__", "uri"} <= set(
        members(api.ClientAPI)
    )


@pytest.mark.parametrize(("protocol", "impl"), PAIRS, ids=lambda c: c.__name__)
def test_every_backend_implements_the_contract(protocol: type, impl: type) -> None:
    assert conforms(protocol, impl) == []


@pytest.mark.parametrize("protocol", [api.ClientAPI, api.CollectionAPI], ids=lambda c: c.__name__)
def test_every_contract_member_has_a_docstring(protocol: type) -> None:
    for name, member in members(protocol).items():
        if name not in ("__enter__", "__exit__"):
            assert inspect.getdoc(member), f"{protocol.__name__}.{name}"


def test_no_backend_subclasses_another() -> None:
    """The contract is a layer above: no backend inherits it or another backend."""
    classes = (vs.Client, MilvusBackendClient, vs.Collection, MilvusCollection)
    for a in classes:
        assert not {vs.ClientAPI, vs.CollectionAPI} & set(a.__mro__), a.__mro__
        assert not [b for b in classes if b is not a and issubclass(a, b)], a.__mro__


@pytest.fixture
def opened(backends: Any) -> Iterator[tuple[Any, Any]]:
    db = backends.connect()
    yield db, db.create_collection("docs", dimension=2)


def test_connect_gives_the_contract_on_every_backend(opened: tuple[Any, Any]) -> None:
    db, col = opened
    assert isinstance(db, vs.ClientAPI) and isinstance(col, vs.CollectionAPI)
    assert not isinstance(col, vs.ClientAPI) and not isinstance(db, vs.CollectionAPI)
    assert db.get_collection("docs") is col


# ------------------------------------------------------------ the check fails
class _Drifted:
    """A collection that drifted: a default changed, a parameter renamed, a
    property become a method, a method missing."""

    def insert(self, rows: Any, partition: str = "other", *, progress: bool | None = None) -> Any:
        raise NotImplementedError

    def upsert(self, rows: Any, part: str = "_default", *, progress: bool | None = None) -> Any:
        raise NotImplementedError

    def name(self) -> str:
        raise NotImplementedError


def test_the_conformance_check_can_fail() -> None:
    problems = conforms(api.CollectionAPI, _Drifted)
    assert any(p.startswith("insert: parameters") for p in problems)
    assert any(p.startswith("upsert: parameters") for p in problems)
    assert "name: not a property" in problems
    assert "search: missing" in problems and "hybrid_search: missing" in problems
    assert not isinstance(_Drifted(), vs.CollectionAPI)


# ------------------------------------------------------------------- layering
def imports_of(path: Path) -> set[str]:
    """The modules ``path`` imports (anywhere in it), as absolute names."""
    package = ".".join(path.relative_to(PACKAGE.parent).with_suffix("").parts)
    if path.name == "__init__.py":
        package += ".__init__"
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.rsplit(".", node.level)[0] if node.level else ""
            module = ".".join(p for p in (base, node.module or "") if p)
            out.add(module)
            out |= {f"{module}.{a.name}" for a in node.names}
    return out


def test_the_backends_do_not_import_each_other() -> None:
    engine = {"vectorstore.client", "vectorstore.collection"}
    # _milvus_rows takes DEFAULT_PARTITION from collection (re-exported there from
    # checks) until its FilterChecker is replaced by the shared one in expr/.
    for path in (PACKAGE / "backends").glob("*.py"):
        if path.name != "_milvus_rows.py":
            assert not imports_of(path) & engine, path
    assert not any(m.startswith("vectorstore.backends") for m in imports_of(PACKAGE / "client.py"))


def test_nothing_below_the_contract_imports_it() -> None:
    above = {"vectorstore.api", "vectorstore.connect"}
    allowed = {PACKAGE / "__init__.py", PACKAGE / "connect.py", PACKAGE / "api.py"}
    above_the_contract = PACKAGE / "pymilvus"  # pymilvus's API, built on the contract
    for path in PACKAGE.rglob("*.py"):
        if path not in allowed and above_the_contract not in path.parents:
            assert not imports_of(path) & above, path


# ---------------------------------------------------------- the shared checks
def test_collection_spec_quick_setup_and_errors() -> None:
    spec = checks.collection_spec("docs", 4, partitions=["a"])
    assert [f.name for f in spec.schema.fields] == ["id", "vector"]
    assert [i.field for i in spec.indexes] == ["vector"] and spec.partitions == ("a",)
    with pytest.raises(vs.SchemaError, match="dimension=, embedding= or schema="):
        checks.collection_spec("docs")
    with pytest.raises(vs.SchemaError, match="not both"):
        checks.collection_spec("docs", 4, schema=spec.schema)
    with pytest.raises(vs.InvalidNameError):
        checks.collection_spec("bad name", 4)
    with pytest.raises(vs.InvalidNameError):
        checks.collection_spec("docs", 4, partitions=["bad name"])


def test_check_existing() -> None:
    spec = checks.collection_spec("docs", 4)
    checks.check_existing(spec, spec.schema, reversed(spec.indexes))
    other = checks.collection_spec("docs", 5)
    with pytest.raises(vs.CollectionExistsError, match="different schema"):
        checks.check_existing(spec, other.schema, other.indexes)
    l2 = checks.collection_spec("docs", 4, metric="L2")
    with pytest.raises(vs.CollectionExistsError, match="different indexes"):
        checks.check_existing(spec, l2.schema, l2.indexes)


def test_check_hybrid() -> None:
    req = vs.AnnRequest(data=[[1.0, 0.0]], anns_field="vector")
    assert checks.check_hybrid((req, req), vs.RRFRanker(), 10, 0) == [req, req]
    for reqs, ranker, message in [
        ([], vs.RRFRanker(), "non-empty list"),
        (req, vs.RRFRanker(), "non-empty list"),
        ([req, "x"], vs.RRFRanker(), "non-empty list"),
        ([req], "rrf", "ranker must be"),
        ([req], vs.WeightedRanker(0.5, 0.5), "2 weights for 1 requests"),
    ]:
        with pytest.raises(vs.DataError, match=message):
            checks.check_hybrid(reqs, ranker, 10, 0)  # type: ignore[arg-type]
    with pytest.raises(vs.DataError):
        checks.check_hybrid([req], vs.RRFRanker(), 10, -1)
    checks.check_query_counts([2, 2])
    with pytest.raises(vs.DataError, match=r"same number of queries, got \[2, 1\]"):
        checks.check_query_counts([2, 1])


def test_public_names_the_adapters_use() -> None:
    assert vs.MAX_TOPK == 16384
    assert vs.normalize_score(1.0, "COSINE") == 1.0 and vs.normalize_score(0.0, vs.Metric.L2) == 1.0
    assert vs.DEFAULT_PARTITION == "_default"
    assert callable(vs.connect) and callable(vs.shared_client)  # the functions, not the module


def test_one_default_partition_name() -> None:
    """The engine's state and the shared checks name the same default partition
    (the Milvus backend takes it from checks, the engine from state)."""
    from vectorstore import collection, state

    assert state.DEFAULT_PARTITION == checks.DEFAULT_PARTITION == collection.DEFAULT_PARTITION
