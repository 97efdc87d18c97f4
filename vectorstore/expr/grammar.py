"""The lark grammar of filter expressions, and readable names for its terminals.

Precedence, loosest first: ``or`` / ``||``; ``and`` / ``&&``; ``not`` / ``!``;
a comparison (``== != < <= > >=``, a chained range, ``in``, ``not in``,
``like``, ``is [not] null``, ``exists``); ``+ -``; ``* / %``; unary minus;
``**`` (right associative); then atoms. So ``not a == 1`` is ``not (a == 1)``
as in SQL. Keywords are case-insensitive and reserved.
"""

from __future__ import annotations

GRAMMAR = r"""
?start: or_expr

?or_expr: and_expr (_OR and_expr)*
?and_expr: not_expr (_AND not_expr)*
?not_expr: NOT not_expr                       -> not_
         | predicate

?predicate: sum
          | sum CMP sum                       -> compare
          | sum CMP sum CMP sum               -> chain
          | sum IN sum                        -> in_
          | sum NOT IN sum                    -> not_in
          | sum LIKE sum                      -> like
          | sum IS NULL                       -> is_null
          | sum IS NOT NULL                   -> is_not_null
          | EXISTS postfix                    -> exists

?sum: product
    | sum (PLUS | MINUS) product              -> arith
?product: unary
        | product MULOP unary                 -> arith
?unary: power
      | MINUS unary                           -> neg
      | PLUS unary                            -> plus
?power: postfix
      | postfix POW unary                     -> arith

?postfix: primary
        | ref

ref: (NAME | META) subscript*
subscript: LSQB (STRING | INT) RSQB

?primary: INT                                 -> int
        | FLOAT                               -> float
        | STRING                              -> string
        | TRUE                                -> true
        | FALSE                               -> false
        | LPAR or_expr RPAR                   -> parens
        | LSQB [list_items] RSQB              -> list
        | LBRACE NAME RBRACE                  -> param
        | NAME LPAR [args] RPAR               -> call

list_items: sum (COMMA sum)* COMMA?
args: or_expr (COMMA or_expr)*

_AND.5: /(?i:and)(?![A-Za-z0-9_])/ | "&&"
_OR.5: /(?i:or)(?![A-Za-z0-9_])/ | "||"
NOT.5: /(?i:not)(?![A-Za-z0-9_])/ | /!(?!=)/
IN.5: /(?i:in)(?![A-Za-z0-9_])/
LIKE.5: /(?i:like)(?![A-Za-z0-9_])/
IS.5: /(?i:is)(?![A-Za-z0-9_])/
NULL.5: /(?i:null)(?![A-Za-z0-9_])/
EXISTS.5: /(?i:exists)(?![A-Za-z0-9_])/
TRUE.5: /(?i:true)(?![A-Za-z0-9_])/
FALSE.5: /(?i:false)(?![A-Za-z0-9_])/
META.5: /\$meta(?![A-Za-z0-9_])/

FLOAT.4: /(?:[0-9]+\.[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?|[0-9]+[eE][+-]?[0-9]+/
INT.3: /0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|0[0-7]+|[1-9][0-9]*|0/
STRING: /"(?:[^"\\]|\\[\s\S])*"|'(?:[^'\\]|\\[\s\S])*'/
NAME: /[A-Za-z_][A-Za-z0-9_]*/

CMP.2: /==|!=|<=|>=|<|>/
POW.2: "**"
MULOP: /\*(?!\*)|\/|%/
PLUS: "+"
MINUS: "-"
LPAR: "("
RPAR: ")"
LSQB: "["
RSQB: "]"
LBRACE: "{"
RBRACE: "}"
COMMA: ","

%ignore /[ \t\r\n\f\v]+/
"""

#: Terminal name -> how an error message shows it.
TERMINAL_NAMES: dict[str, str] = {
    "_AND": "'and'",
    "_OR": "'or'",
    "NOT": "'not'",
    "IN": "'in'",
    "LIKE": "'like'",
    "IS": "'is'",
    "NULL": "'null'",
    "EXISTS": "'exists'",
    "TRUE": "'true'",
    "FALSE": "'false'",
    "META": "'$meta'",
    "FLOAT": "a number",
    "INT": "an integer",
    "STRING": "a string",
    "NAME": "a field name",
    "CMP": "a comparison (==, !=, <, <=, >, >=)",
    "POW": "'**'",
    "MULOP": "'*', '/' or '%'",
    "PLUS": "'+'",
    "MINUS": "'-'",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "LBRACE": "'{'",
    "RBRACE": "'}'",
    "COMMA": "','",
    "$END": "end of input",
}

#: Terminals that can start an operand; when most are expected we say "a value".
VALUE_START: frozenset[str] = frozenset(
    {"NAME", "META", "INT", "FLOAT", "STRING", "TRUE", "FALSE", "LPAR", "LSQB", "LBRACE"}
)
