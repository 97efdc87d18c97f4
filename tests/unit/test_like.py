"""LIKE patterns: the same answers as a regex reference, in linear time.

The engine matches ``%``/``_`` patterns piece by piece (``expr.values.LikeMatcher``);
the reference is the straightforward translation to a Python regex, which is
right but backtracks exponentially on adversarial input.
"""

from __future__ import annotations

import re
import subprocess
import sys

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import vectorstore as vs
from vectorstore.expr.values import compile_like, like_column


def reference(pattern: str, text: str) -> bool:
    out, i = [], 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\":
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "%" else "." if c == "_" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


ALPHABET = "ab%_\\\n"
patterns = st.text(alphabet=ALPHABET, max_size=10).filter(
    lambda p: not re.search(r"(?<!\\)(\\\\)*\\$", p)  # no lone trailing backslash
)
texts = st.text(alphabet="ab%_\\\n", max_size=14)


@settings(max_examples=3000, deadline=None)
@given(patterns, texts)
def test_like_matches_the_regex_reference(pattern, text):
    assert compile_like(pattern)(text) == reference(pattern, text), (pattern, text)


@settings(max_examples=300, deadline=None)
@given(patterns, st.lists(texts, max_size=8))
def test_like_column_matches_row_by_row(pattern, column):
    values = np.array(column, dtype=object)
    expected = [reference(pattern, t) for t in column]
    assert like_column(pattern, values).tolist() == expected


ADVERSARIAL = r"""
import vectorstore as vs
text = "a" * 5000
db = vs.connect(":memory:")
col = db.create_collection("c", dimension=2)
col.insert([{"id": 1, "vector": [1.0, 0.0], "s": text},
            {"id": 2, "vector": [0.0, 1.0], "s": text + "b"}])
for pattern in ["%a" * 40 + "%b", "%a_" * 30 + "%b", "_%" * 50 + "b"]:
    got = [r["id"] for r in col.query("s like {p}", filter_params={"p": pattern})]
    assert got == [2], (pattern, got)
print("ok")
"""


def test_adversarial_patterns_finish():
    """A backtracking regex needs ~4^40 steps here: it would never finish (the
    timeout is a hang guard, far above the milliseconds this takes)."""
    done = subprocess.run(
        [sys.executable, "-c", ADVERSARIAL], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-2000:]


def test_like_through_the_api_with_underscores_and_escapes():
    with vs.connect(":memory:") as db:
        col = db.create_collection("c", dimension=2)
        words = ["a_b", "axb", "a%b", "ab", "a\nb", "xa_by"]
        col.insert([{"id": i, "vector": [1.0, 0.0], "s": w} for i, w in enumerate(words)])

        def ids(pattern: str) -> list[int]:
            return sorted(r["id"] for r in col.query("s like {p}", filter_params={"p": pattern}))

        assert ids("a_b") == [0, 1, 2, 4]
        assert ids(r"a\_b") == [0]
        assert ids(r"a\%b") == [2]
        assert ids("%a_b%") == [0, 1, 2, 4, 5]
        assert ids("a%b") == [0, 1, 2, 3, 4]
