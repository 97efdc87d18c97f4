"""What ``import vectorstore`` loads: only what the embedded store uses.

lark and its parse tables (``vectorstore.expr.lalr``, ~60-75 ms and ~4 MB), the
Milvus backend and ``email`` (an HTTP date in a Retry-After header) load when
first needed: filter text, a Milvus URI, such a header. Each check runs in a
fresh interpreter, as a user's process starts.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

LAZY = ("lark", "vectorstore.expr.lalr", "vectorstore.backends.milvus", "email")


def _loaded_after(code: str) -> dict[str, object]:
    """Run ``code`` in a fresh interpreter; it sets ``out`` (a dict), printed as JSON,
    with ``loaded``: which of LAZY are in ``sys.modules`` at the end."""
    script = textwrap.dedent(code) + textwrap.dedent(
        f"""
        import json, sys
        out["loaded"] = sorted(m for m in {LAZY!r} if m in sys.modules)
        print(json.dumps(out))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout.splitlines()[-1])
    return result


def test_embedded_use_without_filter_text_loads_no_parser_and_no_milvus_backend() -> None:
    out = _loaded_after(
        """
        import vectorstore as vs
        from vectorstore.expr import Compare, Field, Literal
        db = vs.connect(":memory:")
        col = db.create_collection("docs", dimension=2)
        col.insert([{"id": i, "vector": [1.0, float(i)], "n": i} for i in range(5)])
        near = col.search([[1.0, 2.0]], limit=2, filter=Compare(">", Field("n"), Literal(2)))
        col.delete(ids=[4])
        out = {"ids": [h.id for h in near[0]], "left": col.count()}
        """
    )
    assert out == {"ids": [3, 4], "left": 4, "loaded": []}


def test_the_first_filter_text_loads_the_parser() -> None:
    out = _loaded_after(
        """
        import sys
        import vectorstore as vs
        db = vs.connect(":memory:")
        col = db.create_collection("docs", dimension=2)
        col.insert([{"id": i, "vector": [1.0, float(i)], "n": i} for i in range(5)])
        before = "lark" in sys.modules
        near = col.search([[1.0, 2.0]], limit=2, filter="n > 2")
        out = {"before": before, "ids": [h.id for h in near[0]]}
        """
    )
    assert out == {"before": False, "ids": [3, 4], "loaded": ["lark", "vectorstore.expr.lalr"]}
