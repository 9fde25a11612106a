"""The restricted formula mode: a formula is checked token by token before any of it is given to
formulaic (whose parsing already evaluates expressions) or evaluated by us.

A formula passes only if every token is a column name of the data, a number, a formula operator,
a parenthesis or comma, a call of an allowed transform, or a keyword argument name inside such a
call. Attribute access (other than numpy's allowed functions), indexing, strings, lambdas and
names that are neither columns nor allowed functions are refused, which leaves nothing that
could reach Python's builtins or the interpreter's objects.
"""

from __future__ import annotations

import re
from typing import Iterable

from ..errors import FormulaError
from ..options import get_options

ALLOWED_FUNCTIONS = frozenset(
    {
        "log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs",
        "scale", "center", "poly", "bs", "I", "C", "factor", "as.factor", "offset", "cbind",
    }
    | {f"{module}.{name}" for module in ("np", "numpy") for name in ("log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs")}
)  # fmt: skip

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<backtick>`[^`]*`)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>[A-Za-z_][A-Za-z0-9_.]*)
  | (?P<operator>\*\*|\|\||%in%|[<>=!]=|[-+*/^:|~(),=<>])
    """,
    re.VERBOSE,
)


def formula_is_restricted() -> bool:
    return get_options()["formula_evaluation"] == "restricted"


def check_restricted(text: str, columns: Iterable[str], where: str = "formula") -> None:
    """Raise FormulaError unless text holds only what the restricted mode allows (see module doc)."""
    columns = set(map(str, columns))
    tokens = _tokens(text, where)
    depth_calls: list[bool] = []  # for each open parenthesis: does it belong to a function call?
    for k, (kind, value, position) in enumerate(tokens):
        following = tokens[k + 1][1] if k + 1 < len(tokens) else ""
        previous = tokens[k - 1][1] if k > 0 else ""
        if kind == "name":
            if following == "(":
                if value not in ALLOWED_FUNCTIONS:
                    raise _refused(text, where, position, f"function '{value}' is not allowed in restricted mode")
            elif following == "=" and previous in ("(", ",") and depth_calls and depth_calls[-1]:
                if value.startswith("_") or "." in value:
                    raise _refused(text, where, position, f"keyword '{value}' is not allowed in restricted mode")
            elif value not in columns:
                raise _refused(text, where, position, f"'{value}' is not a column of the data")
        elif kind == "backtick":
            if value[1:-1] not in columns:
                raise _refused(text, where, position, f"{value} is not a column of the data")
        elif value == "(":
            depth_calls.append(previous in ALLOWED_FUNCTIONS and tokens[k - 1][0] == "name")
        elif value == ")":
            if depth_calls:
                depth_calls.pop()
        elif value == "=":
            if not (k > 0 and tokens[k - 1][0] == "name" and depth_calls and depth_calls[-1]):
                raise _refused(text, where, position, "'=' is allowed only for keyword arguments of transforms")


def _tokens(text: str, where: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    while position < len(text):
        match = _TOKEN.match(text, position)
        if match is None:
            raise _refused(text, where, position, f"'{text[position]}' is not allowed in restricted mode")
        if match.lastgroup != "space":
            tokens.append((match.lastgroup, match.group(), position))
        position = match.end()
    return tokens


def _refused(text: str, where: str, position: int, message: str) -> FormulaError:
    return FormulaError(
        f"{message} (formula_evaluation='restricted': {where} may hold only column names, numbers, formula "
        f"operators and the transforms {', '.join(sorted(f for f in ALLOWED_FUNCTIONS if '.' not in f))}), at "
        f"position {position}:\n  {text}\n  {' ' * position}^"
    )
