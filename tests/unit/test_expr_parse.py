"""Filter text -> syntax tree, and text -> error (type and position)."""

from __future__ import annotations

import pytest

from vectorstore.errors import FilterSyntaxError, FilterTypeError
from vectorstore.expr import (
    And,
    Arith,
    Call,
    Compare,
    Exists,
    Field,
    In,
    IsNull,
    Like,
    ListLiteral,
    Literal,
    Neg,
    Not,
    Or,
    Param,
    Path,
    Range,
    bind,
    compile_filter,
    field_names,
    parse,
    to_text,
)

x, y, z = Field("x"), Field("y"), Field("z")


def lit(v: object) -> Literal:
    return Literal(v)  # type: ignore[arg-type]


def cmp(op: str, left: object, right: object) -> Compare:
    return Compare(op, left, right)  # type: ignore[arg-type]


PARSES = [
    # precedence: and binds tighter than or; not looser than a comparison
    ("a or b and c", Or((Field("a"), And((Field("b"), Field("c")))))),
    ("(a or b) and c", And((Or((Field("a"), Field("b"))), Field("c")))),
    ("a and b and c", And((Field("a"), Field("b"), Field("c")))),
    ("a || b && c", Or((Field("a"), And((Field("b"), Field("c")))))),
    ("not x == 1", Not(cmp("==", x, lit(1)))),
    ("!x == 1", Not(cmp("==", x, lit(1)))),
    ("not x == 1 and y == 2", And((Not(cmp("==", x, lit(1))), cmp("==", y, lit(2))))),
    ("not not x", Not(Not(x))),
    ("not (x > 1 or y < 2)", Not(Or((cmp(">", x, lit(1)), cmp("<", y, lit(2)))))),
    # comparisons and chains
    ("x != 'a'", cmp("!=", x, lit("a"))),
    ("x >= -5", cmp(">=", x, lit(-5))),
    ("1 < x <= 5", Range(x, lit(1), lit(5), False, True)),
    ("5 > x >= 1", Range(x, lit(1), lit(5), True, False)),
    ("1 <= x < 5", Range(x, lit(1), lit(5), True, False)),
    ("x == y", cmp("==", x, y)),
    # arithmetic
    ("x * 2 > 10", cmp(">", Arith("*", x, lit(2)), lit(10))),
    ("x % 3 == 0", cmp("==", Arith("%", x, lit(3)), lit(0))),
    ("x + y * 2 == 1", cmp("==", Arith("+", x, Arith("*", y, lit(2))), lit(1))),
    ("x - 1 - 2 == 0", cmp("==", Arith("-", Arith("-", x, lit(1)), lit(2)), lit(0))),
    ("x ** 2 ** 3 > 1", cmp(">", Arith("**", x, Arith("**", lit(2), lit(3))), lit(1))),
    ("-x ** 2 < 0", cmp("<", Neg(Arith("**", x, lit(2))), lit(0))),
    ("x / -2 < 0", cmp("<", Arith("/", x, lit(-2)), lit(0))),
    ("-(x) > +3", cmp(">", Neg(x), lit(3))),
    # literals
    ("x == 0x1F", cmp("==", x, lit(31))),
    ("x == 0X1f", cmp("==", x, lit(31))),
    ("x == 0o17", cmp("==", x, lit(15))),
    ("x == 017", cmp("==", x, lit(15))),
    ("x == 0b101", cmp("==", x, lit(5))),
    ("x == 0", cmp("==", x, lit(0))),
    ("x == 1.5", cmp("==", x, lit(1.5))),
    ("x == 1e-3", cmp("==", x, lit(0.001))),
    ("x == .5", cmp("==", x, lit(0.5))),
    ("x == 2.", cmp("==", x, lit(2.0))),
    ("x == -9223372036854775808", cmp("==", x, lit(-(2**63)))),
    ("x == true", cmp("==", x, lit(True))),
    ("x == True", cmp("==", x, lit(True))),
    ("x == FALSE", cmp("==", x, lit(False))),
    (r'x == "a\"b"', cmp("==", x, lit('a"b'))),
    (r"x == 'it\'s'", cmp("==", x, lit("it's"))),
    (r'x == "tab\there"', cmp("==", x, lit("tab\there"))),
    (r'x == "\x41\u00e9\U0001F600"', cmp("==", x, lit("A\u00e9\U0001f600"))),
    (r'x == "back\\slash"', cmp("==", x, lit("back\\slash"))),
    (r'x == "\101"', cmp("==", x, lit("A"))),
    ("x == 'double \" inside'", cmp("==", x, lit('double " inside'))),
    ('x == "é 中文"', cmp("==", x, lit("é 中文"))),
    # lists, in
    ('x in [1, 2, "a"]', In(x, ListLiteral((1, 2, "a")))),
    ("x not in [1, -2.5, true]", In(x, ListLiteral((1, -2.5, True)), True)),
    ("x in []", In(x, ListLiteral(()))),
    ("x in [1, [2, 3],]", In(x, ListLiteral((1, (2, 3))))),
    ("x in {ids}", In(x, Param("ids"))),
    # like
    ('x like "ab%"', Like(x, lit("ab%"))),
    (r'x like "100\%"', Like(x, lit("100\\%"))),
    (r'x like "a\\_b"', Like(x, lit("a\\_b"))),
    # paths, dynamic keys, $meta
    ('meta["a"]["b"] == 1', cmp("==", Path(Field("meta"), ("a", "b")), lit(1))),
    ('meta["list"][0] == 1', cmp("==", Path(Field("meta"), ("list", 0)), lit(1))),
    ("tags[0] == 'x'", cmp("==", Path(Field("tags"), (0,)), lit("x"))),
    ('$meta["color"] == "red"', cmp("==", Field("color", dynamic=True), lit("red"))),
    ('$meta["k"]["a"] == 1', cmp("==", Path(Field("k", dynamic=True), ("a",)), lit(1))),
    ("android == 1", cmp("==", Field("android"), lit(1))),
    ("order_id == 1", cmp("==", Field("order_id"), lit(1))),
    ("is_null == 1", cmp("==", Field("is_null"), lit(1))),
    # null, exists
    ("x is null", IsNull(x)),
    ("x IS NOT NULL", IsNull(x, True)),
    ('meta["a"] is not null', IsNull(Path(Field("meta"), ("a",)), True)),
    ('exists meta["a"]', Exists(Path(Field("meta"), ("a",)))),
    ("EXISTS color", Exists(Field("color"))),
    ("not x is null", Not(IsNull(x))),
    # functions (names case-insensitive)
    (
        'json_contains(meta["tags"], "x")',
        Call("json_contains", (Path(Field("meta"), ("tags",)), lit("x"))),
    ),
    (
        'JSON_CONTAINS_ALL(tags, ["a", "b"])',
        Call("json_contains_all", (Field("tags"), ListLiteral(("a", "b")))),
    ),
    (
        "array_contains_any(tags, [1])",
        Call("array_contains_any", (Field("tags"), ListLiteral((1,)))),
    ),
    ("array_length(tags) > 2", cmp(">", Call("array_length", (Field("tags"),)), lit(2))),
    # templates
    ("x >= {v}", cmp(">=", x, Param("v"))),
    ("x like {p} and y == {q}", And((Like(x, Param("p")), cmp("==", y, Param("q"))))),
    # keyword case and whitespace
    (
        "x In [1] AnD y LIKE 'a' oR NoT z iS nUlL",
        Or((And((In(x, ListLiteral((1,))), Like(y, lit("a")))), Not(IsNull(z)))),
    ),
    ("  x\n==\t1  ", cmp("==", x, lit(1))),
    ("true", lit(True)),
]


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t for t, _ in PARSES])
def test_parse_builds_the_expected_tree(text: str, expected: object) -> None:
    assert parse(text) == expected


@pytest.mark.parametrize(("text", "expected"), PARSES, ids=[t for t, _ in PARSES])
def test_to_text_round_trips(text: str, expected: object) -> None:
    tree = parse(text)
    assert parse(to_text(tree)) == tree


def test_positions_are_recorded() -> None:
    tree = parse("a == 1 and  b in [2]")
    assert isinstance(tree, And)
    first, second = tree.items
    assert (tree.pos, first.pos, second.pos) == (0, 0, 12)
    assert isinstance(second, In) and second.values.pos == 17


def test_pos_is_not_part_of_equality() -> None:
    assert Literal(1, pos=3) == Literal(1) and hash(Literal(1, pos=3)) == hash(Literal(1))


def test_parse_is_cached() -> None:
    assert parse("cached_field > 1") is parse("cached_field > 1")


ERRORS = [
    # (text, error type, position)
    ("(a == 1", FilterSyntaxError, 7),
    ("a == 1)", FilterSyntaxError, 6),
    ("a ==", FilterSyntaxError, 4),
    ("a == 1 and", FilterSyntaxError, 10),
    ("and a == 1", FilterSyntaxError, 0),
    ("a == == 1", FilterSyntaxError, 5),
    ("a = 1", FilterSyntaxError, 2),
    ('a == "abc', FilterSyntaxError, 5),
    ("a == 'abc", FilterSyntaxError, 5),
    (r'a == "bad \x4"', FilterSyntaxError, 10),
    (r'a == "bad \uZZZZ"', FilterSyntaxError, 10),
    ("a == 1 $", FilterSyntaxError, 7),
    ("foo(a) > 1", FilterSyntaxError, 0),
    ("x > 1 and bar(1, 2)", FilterSyntaxError, 10),
    ("json_contains(a)", FilterSyntaxError, 0),
    ("x == 9223372036854775808", FilterSyntaxError, 5),
    ("x == 1e999", FilterSyntaxError, 5),
    ("1 < x > 2", FilterSyntaxError, 6),
    ("x == y == z", FilterSyntaxError, 7),
    ("x in y", FilterSyntaxError, 5),
    ("x in [y]", FilterSyntaxError, 6),
    ("x in [1, {p}]", FilterSyntaxError, 9),
    ("x like y", FilterSyntaxError, 7),
    (r'x like "abc\"', FilterSyntaxError, 7),
    ("5 is null", FilterSyntaxError, 0),
    ("exists 5", FilterSyntaxError, 7),
    ("$meta == 1", FilterSyntaxError, 0),
    ("x == null", FilterSyntaxError, 5),
    ("in == 1", FilterSyntaxError, 0),
    ("", FilterSyntaxError, 0),
    ("   ", FilterSyntaxError, 0),
    ("+x > 1", FilterSyntaxError, 0),
    ("x > 1 1", FilterSyntaxError, 6),
    ("(" * 2000 + "x" + ")" * 2000, FilterSyntaxError, 100),
    ("not " * 2000 + "x", FilterSyntaxError, None),
    ("x" + " + 1" * 300 + " > 0", FilterSyntaxError, None),
    ("text_match(body)", FilterSyntaxError, 0),
    ("x > 1 or TEXT_MATCH(body, 'a', 'b')", FilterSyntaxError, 9),
]


@pytest.mark.parametrize(("text", "error", "position"), ERRORS, ids=[t[:40] for t, _, _ in ERRORS])
def test_parse_errors_name_the_position(text: str, error: type, position: int | None) -> None:
    with pytest.raises(error) as info:
        parse(text)
    if error is FilterSyntaxError:
        assert isinstance(info.value, ValueError)
        if position is not None:
            assert info.value.position == position
            assert f"at position {position}" in str(info.value)
        assert info.value.expression == text


def test_error_messages_say_what_was_expected() -> None:
    with pytest.raises(FilterSyntaxError, match=r"at position 7: expected .*'\)'"):
        parse("(a == 1")
    with pytest.raises(FilterSyntaxError, match="expected an expression, got end of input"):
        parse("a == 1 and")
    with pytest.raises(FilterSyntaxError, match="use '==' to compare"):
        parse("a = 1")
    with pytest.raises(FilterSyntaxError, match="unterminated string"):
        parse('a == "abc')
    with pytest.raises(FilterSyntaxError, match="unknown function 'foo'"):
        parse("foo(a) > 1")
    with pytest.raises(FilterSyntaxError, match="too deeply nested"):
        parse("not " * 2000 + "x")
    with pytest.raises(FilterSyntaxError, match="text_match takes 2 argument"):
        parse("text_match(body)")
    assert to_text(parse("TEXT_MATCH(body, 'hello')")) == 'text_match(body, "hello")'


def test_deep_but_legal_nesting_parses() -> None:
    assert parse("(" * 50 + "x > 1" + ")" * 50) == cmp(">", x, lit(1))
    assert parse('x == "' + "(" * 500 + '"') == cmp("==", x, lit("(" * 500))


def test_bind_replaces_templates_with_literals() -> None:
    tree = parse("x >= {v} and y in {ids} and z like {p} and w == {s}")
    bound = bind(tree, {"v": 5, "ids": [1, 2], "p": "ab%", "s": 'x" or 1 == 1 or "'})
    assert bound == And(
        (
            cmp(">=", x, lit(5)),
            In(y, ListLiteral((1, 2))),
            Like(z, lit("ab%")),
            cmp("==", Field("w"), lit('x" or 1 == 1 or "')),  # data, not code
        )
    )
    assert compile_filter("x == {b}", {"b": True}) == cmp("==", x, lit(True))
    assert compile_filter("x in {v}", {"v": (1.5, [2, "a"])}) == In(x, ListLiteral((1.5, (2, "a"))))
    assert compile_filter("x > 1") == cmp(">", x, lit(1))  # nothing to bind


def test_bind_accepts_numpy_values() -> None:
    import numpy as np

    bound = compile_filter("x in {v} and y == {w}", {"v": np.array([1, 2]), "w": np.int32(3)})
    assert bound == And((In(x, ListLiteral((1, 2))), cmp("==", y, lit(3))))
    assert type(bound.items[1].right.value) is int  # type: ignore[attr-defined]


def test_bind_missing_param_is_a_syntax_error_naming_it() -> None:
    with pytest.raises(
        FilterSyntaxError, match=r"missing filter parameter 'v'.*position 5"
    ) as info:
        compile_filter("x >= {v}", {"w": 1})
    assert info.value.position == 5
    with pytest.raises(FilterSyntaxError, match="'v'"):
        compile_filter("x >= {v}")


@pytest.mark.parametrize("value", [None, {"a": 1}, object(), float("nan"), 2**64, [1, None], b"x"])
def test_bind_rejects_unsupported_values(value: object) -> None:
    with pytest.raises(FilterTypeError, match="'v'"):
        compile_filter("x == {v}", {"v": value})


def test_bind_checks_like_patterns() -> None:
    with pytest.raises(FilterSyntaxError, match="trailing backslash"):
        compile_filter("x like {p}", {"p": "abc\\"})


def test_field_names() -> None:
    tree = parse('a > 1 and meta["k"][0] == 2 or $meta["d"] == 1 or json_contains(tags, b)')
    assert field_names(tree) == frozenset({"a", "meta", "$meta", "tags", "b"})
    assert field_names(parse("1 == 1")) == frozenset()


def test_hand_built_trees_deeper_than_the_limit_are_rejected() -> None:
    tree: object = cmp(">", x, lit(1))
    for _ in range(500):
        tree = Not(tree)  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError, match="too deeply nested"):
        bind(tree, {})  # type: ignore[arg-type]
    with pytest.raises(FilterSyntaxError, match="too deeply nested"):
        to_text(tree)  # type: ignore[arg-type]


def test_to_text_escapes_strings_and_dynamic_keys() -> None:
    tree = And((cmp("==", Field("we ird", dynamic=True), lit('a"b\\c\n')), Like(x, lit("100\\%"))))
    text = to_text(tree)
    assert parse(text) == tree
    assert '$meta["we ird"]' in text


def test_parsing_is_thread_safe() -> None:
    import threading

    texts = [f"x{i} > {i} and y like 'a{i}%' or z in [{i}, {i + 1}]" for i in range(200)]
    expected = [parse.__wrapped__(t) for t in texts]
    failures: list[str] = []

    def work(offset: int) -> None:
        for k in range(len(texts)):
            i = (k + offset) % len(texts)
            if parse.__wrapped__(texts[i]) != expected[i]:
                failures.append(texts[i])

    threads = [threading.Thread(target=work, args=(n * 25,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []


def test_literals_compare_with_their_type() -> None:
    assert parse("x == 1") != parse("x == true")
    assert parse("x == 1") != parse("x == 1.0")
    assert parse("x in [1, 2]") != parse("x in [true, 2]")
    assert len({parse("x == 1"), parse("x == true"), parse("x == 1.0")}) == 3
