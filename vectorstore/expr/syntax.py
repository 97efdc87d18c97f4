"""Where in a filter's text a problem is: ``FilterSyntaxError`` with a caret.

The parser (``parser``) and lark's side of it (``lalr``) both report through
``error_at``; ``check_nesting`` runs before lark sees the text.
"""

from __future__ import annotations

from ..errors import FilterSyntaxError

__all__ = ["MAX_NESTING", "check_nesting", "error_at"]

#: Deepest bracket nesting accepted, checked before parsing.
MAX_NESTING = 100


def error_at(text: str, pos: int, detail: str) -> FilterSyntaxError:
    """A FilterSyntaxError for ``text`` at ``pos`` with a caret under the spot."""
    pos = max(0, min(pos, len(text)))
    start = max(0, pos - 40)
    snippet = text[start : pos + 40]
    snippet = "".join(c if c.isprintable() else " " for c in snippet)
    prefix = "..." if start else ""
    caret = " " * (len(prefix) + pos - start) + "^"
    message = f"invalid filter at position {pos}: {detail}\n  {prefix}{snippet}\n  {caret}"
    return FilterSyntaxError(message, expression=text, position=pos)


def check_nesting(text: str) -> None:
    """Reject bracket nesting deeper than MAX_NESTING (strings are skipped)."""
    if text.count("(") + text.count("[") + text.count("{") <= MAX_NESTING:
        return
    depth = 0
    quote = ""
    escaped = False
    for i, c in enumerate(text):
        if quote:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == quote:
                quote = ""
        elif c in "\"'":
            quote = c
        elif c in "([{":
            depth += 1
            if depth > MAX_NESTING:
                raise error_at(text, i, f"expression too deeply nested (over {MAX_NESTING} levels)")
        elif c in ")]}":
            depth -= 1
