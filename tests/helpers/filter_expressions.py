"""Random well-typed filter expressions (hypothesis strategies building
``vectorstore.expr`` trees over the schema of filter_reference.py) and a renderer
written here that turns a tree back into filter text, with random keyword
spellings, number bases and bracketings. Used by the tests/property/ filter
modules.
"""

from __future__ import annotations

import random
import re
from typing import Any, cast

from hypothesis import strategies as st

from helpers.filter_reference import NUMERIC_FIELDS, TYPES, json_scalar, short_text
from vectorstore.expr import (
    And,
    Arith,
    Call,
    Compare,
    Exists,
    Expr,
    Field,
    In,
    IsNull,
    Like,
    ListLiteral,
    Literal,
    Neg,
    Not,
    Or,
    Path,
    Range,
)
from vectorstore.expr.ast import ArithOp

# ----------------------------------------------------------------------- expressions

num_const = st.one_of(st.integers(-4, 6), st.sampled_from([-1.5, 0.5, 2.0, 2.5]))
str_const = short_text
any_const = st.one_of(st.booleans(), num_const, str_const)
num_field = st.sampled_from(NUMERIC_FIELDS).map(Field)
META_KEYS: list[tuple[str | int, ...]] = [
    ("a",),
    ("b",),
    ("a", 0),
    ("c", "x"),
    ("a", "a"),
    ("b", 1),
]
K_KEYS: list[tuple[str | int, ...]] = [("a",), (0,)]
json_path = st.one_of(
    st.sampled_from(META_KEYS).map(lambda keys: Path(Field("meta"), keys)),
    st.sampled_from(["k", "m", "color", "num", "num"]).map(Field),
    st.sampled_from(["k", "v"]).map(lambda k: Field(k, dynamic=True)),
    st.sampled_from(K_KEYS).map(lambda keys: Path(Field("k"), keys)),
)
tag_elem = st.integers(0, 2).map(lambda i: Path(Field("tags"), (i,)))
num_elem = st.integers(0, 2).map(lambda i: Path(Field("nums"), (i,)))


@st.composite
def num_value(draw: st.DrawFn) -> Expr:
    base = draw(st.one_of(num_field, num_elem))
    choice = draw(st.integers(0, 6))
    if choice == 0:
        op = cast(ArithOp, draw(st.sampled_from(["+", "-", "*", "%", "/"])))
        c = draw(st.integers(1, 4) if op in "%/" else st.integers(-3, 3))
        return Arith(op, base, Literal(c))
    if choice == 1:
        return Arith(
            cast(ArithOp, draw(st.sampled_from(["/", "%", "+"]))),
            Literal(draw(st.integers(-6, 6))),
            base,
        )
    if choice == 2:
        return Arith("**", base, Literal(draw(st.integers(0, 3))))
    if choice == 3:
        return Neg(base)
    if choice == 4:
        return Call("array_length", (draw(st.sampled_from([Field("tags"), Field("nums")])),))
    if choice == 5:
        return Arith(cast(ArithOp, draw(st.sampled_from(["+", "*", "-"]))), base, draw(num_field))
    return base


ORDER = ["<", "<=", ">", ">="]
ALL_OPS = ["==", "!=", *ORDER]


@st.composite
def leaf(draw: st.DrawFn) -> Expr:
    # weighted: in, like, is null, exists and the contains functions come up more often
    choice = draw(st.sampled_from([*range(16), 6, 7, 8, 9, 10, 11, 11]))
    if choice == 0:
        left, right = draw(num_value()), Literal(draw(num_const))
        if draw(st.booleans()):
            left, right = right, left
        return Compare(draw(st.sampled_from(ALL_OPS)), left, right)
    if choice == 1:
        return Compare(draw(st.sampled_from(ALL_OPS)), draw(num_field), draw(num_field))
    if choice == 2:
        target = draw(st.one_of(st.just(Field("name")), tag_elem))
        return Compare(draw(st.sampled_from(ALL_OPS)), target, Literal(draw(str_const)))
    if choice == 3:
        const = draw(st.one_of(num_const, str_const, st.booleans()))
        ops = ALL_OPS if not isinstance(const, bool) else ["==", "!="]
        left = draw(json_path)
        if draw(st.integers(0, 2)) == 0:
            op = cast(ArithOp, draw(st.sampled_from(["+", "*", "-", "%", "/"])))
            divisor = draw(st.sampled_from([-2, 2, 3]) if op in "%/" else st.integers(-2, 2))
            left = Arith(op, left, Literal(divisor))
            if draw(st.booleans()):
                left = Arith(op, Literal(draw(st.integers(-5, 5))), draw(json_path))
            const = draw(num_const)
            ops = ALL_OPS
        return Compare(draw(st.sampled_from(ops)), left, Literal(const))
    if choice == 4:
        items = tuple(draw(st.lists(json_scalar.filter(lambda x: x is not None), max_size=2)))
        return Compare(draw(st.sampled_from(["==", "!="])), draw(json_path), ListLiteral(items))
    if choice == 5:
        lo, hi = sorted(draw(st.lists(st.integers(-4, 6), min_size=2, max_size=2)))
        return Range(
            draw(num_value()), Literal(lo), Literal(hi), draw(st.booleans()), draw(st.booleans())
        )
    if choice == 6:
        target_of, items_of = draw(
            st.sampled_from(
                [
                    (num_value(), st.lists(num_const, max_size=4)),
                    (st.just(Field("name")), st.lists(str_const, max_size=6)),
                    (tag_elem, st.lists(st.sampled_from("xyzq"), max_size=3)),
                    (json_path, st.lists(any_const, max_size=4)),
                    (st.just(Field("b")), st.lists(st.booleans(), max_size=2)),
                ]
            )
        )
        return In(
            draw(target_of),
            ListLiteral(tuple(cast(list[Any], draw(items_of)))),
            draw(st.booleans()),
        )
    if choice == 7:
        target = draw(st.one_of(st.just(Field("name")), json_path, tag_elem))
        return Like(
            target,
            Literal(
                draw(
                    st.text(alphabet="ab%_\\x", max_size=4).filter(
                        lambda p: not re.search(r"(?<!\\)(\\\\)*\\$", p)
                    )
                )
            ),
        )
    if choice == 8:
        target = draw(st.one_of(st.sampled_from([Field(n) for n in TYPES]), json_path, tag_elem))
        return IsNull(target, draw(st.booleans()))
    if choice == 9:
        return Exists(draw(st.one_of(json_path, tag_elem, st.just(Field("meta")))))
    if choice == 10:
        name = draw(st.sampled_from(["json_contains", "array_contains"]))
        target = draw(st.one_of(json_path, st.just(Path(Field("meta"), ("a",)))))
        if draw(st.booleans()):
            return Call(name, (Field("tags"), Literal(draw(st.sampled_from("xyq")))))
        return Call(name, (target, Literal(draw(any_const))))
    if choice == 11:
        name = draw(
            st.sampled_from(
                [
                    "json_contains_all",
                    "json_contains_any",
                    "array_contains_all",
                    "array_contains_any",
                ]
            )
        )
        if draw(st.booleans()):
            needles: tuple[Any, ...] = tuple(draw(st.lists(st.integers(0, 4), max_size=3)))
            return Call(name, (Field("nums"), ListLiteral(needles)))
        needles = tuple(draw(st.lists(any_const, max_size=3)))
        return Call(name, (draw(json_path), ListLiteral(needles)))
    if choice == 12:
        return draw(st.sampled_from([Field("b"), Path(Field("meta"), ("a",)), Field("k")]))
    if choice == 13:
        return Literal(draw(st.booleans()))
    if choice == 14:
        return Compare(
            draw(st.sampled_from(["==", "!="])),
            Field("tags"),
            ListLiteral(tuple(draw(st.lists(st.sampled_from("xy"), max_size=2)))),
        )
    return Compare(draw(st.sampled_from(ALL_OPS)), draw(json_path), draw(json_path))


expressions = st.recursive(
    leaf(),
    lambda inner: st.one_of(
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: And(tuple(xs))),
        st.lists(inner, min_size=2, max_size=3).map(lambda xs: Or(tuple(xs))),
        inner.map(Not),
    ),
    max_leaves=6,
)

# -------------------------------------------------------------------------- renderer


def quote(text: str) -> str:
    out = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return f'"{out}"'


def render(node: Any, rnd: random.Random) -> str:
    def kw(word: str) -> str:
        return rnd.choice([word, word.upper(), word.capitalize()])

    def r(n: Any) -> str:
        return render(n, rnd)

    if isinstance(node, (bool, int, float, str, tuple)):
        if isinstance(node, bool):
            return kw("true" if node else "false")
        if isinstance(node, int):
            if node >= 0 and rnd.random() < 0.3:
                return rnd.choice([hex(node), oct(node), bin(node)])
            return str(node)
        if isinstance(node, float):
            return repr(node)
        if isinstance(node, str):
            return quote(node)
        trailing = "," if node and rnd.random() < 0.2 else ""
        return "[" + ", ".join(r(x) for x in node) + trailing + "]"
    if isinstance(node, Literal):
        return r(node.value)
    if isinstance(node, ListLiteral):
        return r(node.values)
    if isinstance(node, Field):
        return f"$meta[{quote(node.name)}]" if node.dynamic else node.name
    if isinstance(node, Path):
        return r(node.base) + "".join(
            f"[{quote(k) if isinstance(k, str) else k}]" for k in node.keys
        )
    if isinstance(node, Arith):
        return f"({r(node.left)} {node.op} {r(node.right)})"
    if isinstance(node, Neg):
        return f"-({r(node.operand)})"
    if isinstance(node, Call):
        name = node.name.upper() if rnd.random() < 0.3 else node.name
        return f"{name}({', '.join(r(a) for a in node.args)})"
    if isinstance(node, Compare):
        return f"({r(node.left)} {node.op} {r(node.right)})"
    if isinstance(node, Range):
        lo, hi = ("<=" if node.lower_inclusive else "<"), ("<=" if node.upper_inclusive else "<")
        if rnd.random() < 0.5:
            return f"({r(node.lower)} {lo} {r(node.expr)} {hi} {r(node.upper)})"
        return (
            f"({r(node.upper)} {hi.replace('<', '>')} {r(node.expr)} "
            f"{lo.replace('<', '>')} {r(node.lower)})"
        )
    if isinstance(node, In):
        op = f"{kw('not')} {kw('in')}" if node.negated else kw("in")
        return f"({r(node.expr)} {op} {r(node.values)})"
    if isinstance(node, Like):
        return f"({r(node.expr)} {kw('like')} {r(node.pattern)})"
    if isinstance(node, IsNull):
        middle = f"{kw('not')} " if node.negated else ""
        return f"({r(node.expr)} {kw('is')} {middle}{kw('null')})"
    if isinstance(node, Exists):
        return f"({kw('exists')} {r(node.expr)})"
    if isinstance(node, And):
        return "(" + rnd.choice([" and ", " AND ", " && "]).join(r(i) for i in node.items) + ")"
    if isinstance(node, Or):
        return "(" + rnd.choice([" or ", " OR ", " || "]).join(r(i) for i in node.items) + ")"
    if isinstance(node, Not):
        return f"({rnd.choice([kw('not') + ' ', '!'])}{r(node.expr)})"
    raise AssertionError(node)
