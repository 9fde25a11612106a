"""The restricted formula mode: a formula is checked token by token before any of it is given to
formulaic (whose parsing already evaluates expressions) or evaluated by us.

A formula passes only if every token is a column name of the data, a number, a formula operator,
a parenthesis or comma, a call of an allowed transform, or one of that transform's own keyword
arguments. Attribute access (other than numpy's allowed functions), indexing, strings, lambdas
and names that are neither columns nor allowed functions are refused, which leaves nothing that
could reach Python's builtins or the interpreter's objects.

What is left could still be made to run for ever, so the mode also bounds the work: the formula's
length, powers (`9**9**9` is an integer with 4·10⁸ digits; a power's exponent is a number of at
most MAX_POWER or a column, never another power), the number of terms the formula expands to
(`(x0 + … + x19)^20` has 2²⁰; an upper bound is computed from the tokens) and the sizes of
`poly` and `bs` (at most the column's distinct values, as R requires, and MAX_BASIS).
"""

from __future__ import annotations

import math
import re
from typing import Any, Iterable

import pandas as pd

from ..errors import FormulaError
from ..options import get_options

ALLOWED_FUNCTIONS = frozenset(
    {
        "log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs",
        "scale", "center", "poly", "bs", "I", "C", "factor", "as.factor", "offset", "cbind",
    }
    | {f"{module}.{name}" for module in ("np", "numpy") for name in ("log", "log2", "log10", "log1p", "exp", "expm1", "sqrt", "abs")}
)  # fmt: skip

# The keyword arguments each transform may be given (numpy's functions none: `exp(x, out=x)`
# would write into the data), and the arguments that size a basis (poly's degree, bs's df and
# degree), by position after the column and by name.
KEYWORDS = {
    "poly": ("degree", "raw"),
    "bs": ("df", "knots", "degree", "include_intercept"),
    "scale": ("center", "scale"),
}
SIZE_ARGUMENTS = {"poly": ("degree",), "bs": ("df", "degree")}
LITERAL_NAMES = frozenset({"True", "False"})

MAX_FORMULA_LENGTH = 4000
MAX_POWER = 10
MAX_TERMS = 1000
MAX_BASIS = 100

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

Token = tuple[str, str, int]  # kind, text, position


def formula_is_restricted() -> bool:
    return get_options()["formula_evaluation"] == "restricted"


def check_restricted(text: str, columns: Iterable[str], where: str = "formula", data: Any = None) -> None:
    """Raise FormulaError unless text holds only what the restricted mode allows (see module doc).

    data, if given (a pandas DataFrame), bounds poly's and bs's sizes by the distinct values of
    the column they transform."""
    if not isinstance(text, str):
        raise TypeError(f"{where} must be a string, got {type(text).__name__}")
    if len(text) > MAX_FORMULA_LENGTH:
        raise _refused(text, where, MAX_FORMULA_LENGTH, f"longer than {MAX_FORMULA_LENGTH} characters")
    columns = set(map(str, columns))
    tokens = _tokens(text, where)
    calls: list[str | None] = []  # for each open parenthesis: the function it calls, if any
    for k, (kind, value, position) in enumerate(tokens):
        following = tokens[k + 1][1] if k + 1 < len(tokens) else ""
        previous = tokens[k - 1][1] if k > 0 else ""
        in_call = calls[-1] if calls else None
        if kind == "name":
            if following == "(":
                if value not in ALLOWED_FUNCTIONS:
                    raise _refused(text, where, position, f"function '{value}' is not allowed in restricted mode")
            elif following == "=" and previous in ("(", ",") and in_call is not None:
                if value not in KEYWORDS.get(in_call, ()):
                    allowed = ", ".join(KEYWORDS.get(in_call, ())) or "none"
                    raise _refused(text, where, position, f"'{value}' is not a keyword argument of {in_call} (allowed: {allowed})")
            elif previous == "=" and value in LITERAL_NAMES:
                pass
            elif value not in columns:
                raise _refused(text, where, position, f"'{value}' is not a column of the data")
        elif kind == "backtick":
            if value[1:-1] not in columns:
                raise _refused(text, where, position, f"{value} is not a column of the data")
        elif value == "(":
            calls.append(previous if k > 0 and tokens[k - 1][0] == "name" and previous in ALLOWED_FUNCTIONS else None)
        elif value == ")":
            if calls:
                calls.pop()
        elif value == "=":
            if not (k > 0 and tokens[k - 1][0] == "name" and in_call is not None):
                raise _refused(text, where, position, "'=' is allowed only for keyword arguments of transforms")
        elif value in ("**", "^"):
            _check_power(text, where, tokens, k, columns)
    _check_basis_sizes(text, where, tokens, data)
    terms = _TermCounter(tokens).count()
    if terms > MAX_TERMS:
        raise _refused(text, where, 0, f"the formula expands to more than {MAX_TERMS} terms (an upper bound: {terms})")


def _check_power(text: str, where: str, tokens: list[Token], k: int, columns: set[str]) -> None:
    """A power's exponent: a number of at most MAX_POWER in size (optionally signed), or a column;
    never itself raised to a power (Python's integers make `9**9**9` run for ever)."""
    j = k + 1
    if j < len(tokens) and tokens[j][1] in ("-", "+"):
        j += 1
    if j >= len(tokens):
        raise _refused(text, where, tokens[k][2], "a power needs an exponent")
    kind, value, position = tokens[j]
    if kind == "number":
        if abs(float(value)) > MAX_POWER:
            raise _refused(text, where, position, f"exponents are limited to {MAX_POWER} in restricted mode")
    elif not ((kind == "name" and value in columns) or (kind == "backtick" and value[1:-1] in columns)):
        raise _refused(text, where, position, "an exponent must be a number or a column in restricted mode")
    if j + 1 < len(tokens) and tokens[j + 1][1] in ("**", "^"):
        raise _refused(text, where, tokens[j + 1][2], "powers of powers are not allowed in restricted mode")


def _call_arguments(tokens: list[Token], open_at: int) -> tuple[list[list[Token]], int]:
    """The arguments (token lists split at top-level commas) of the call whose '(' is at open_at,
    and the index of its ')'."""
    arguments: list[list[Token]] = [[]]
    depth = 0
    for k in range(open_at + 1, len(tokens)):
        value = tokens[k][1]
        if value == "(":
            depth += 1
        elif value == ")":
            if depth == 0:
                return arguments, k
            depth -= 1
        elif value == "," and depth == 0:
            arguments.append([])
            continue
        arguments[-1].append(tokens[k])
    return arguments, len(tokens)


def _check_basis_sizes(text: str, where: str, tokens: list[Token], data: Any) -> None:
    """poly's degree and bs's df and degree: whole numbers from 1 to MAX_BASIS and, where the
    first argument is a column of data, below (poly) or at most (bs) its number of distinct
    values; their other arguments are numbers or True/False, never expressions."""
    for k, (kind, value, _) in enumerate(tokens):
        if kind != "name" or value not in SIZE_ARGUMENTS or k + 1 >= len(tokens) or tokens[k + 1][1] != "(":
            continue
        arguments, _ = _call_arguments(tokens, k + 1)
        distinct = _distinct_values(arguments[0], data)
        names = KEYWORDS[value]
        for position, argument in enumerate(arguments[1:]):
            if len(argument) >= 2 and argument[1][1] == "=":
                name, argument = argument[0][1], argument[2:]
            else:
                name = names[position] if position < len(names) else "?"
            if len(argument) != 1 or not (argument[0][0] == "number" or argument[0][1] in LITERAL_NAMES):
                at = argument[0][2] if argument else tokens[k][2]
                raise _refused(text, where, at, f"{value}'s argument {name} must be a number or True/False in restricted mode")
            if name not in SIZE_ARGUMENTS[value]:
                continue
            size = float(argument[0][1]) if argument[0][0] == "number" else -1.0
            limit = MAX_BASIS if distinct is None else min(MAX_BASIS, distinct - (value == "poly"))
            if not (size == int(size) and 1 <= size <= limit):
                reason = "" if distinct is None else f" (the column has {distinct} distinct values)"
                raise _refused(text, where, argument[0][2], f"{value}'s {name} must be a whole number from 1 to {limit}{reason}")


def _distinct_values(argument: list[Token], data: Any) -> int | None:
    if len(argument) != 1 or not isinstance(data, pd.DataFrame):
        return None
    kind, value, _ = argument[0]
    name = value[1:-1] if kind == "backtick" else value
    if name not in data.columns:
        return None
    column = data[name]
    return int(column.nunique()) if not isinstance(column, pd.DataFrame) else None


class _TermCounter:
    """An upper bound on the number of terms a (checked) formula expands to, from its tokens:
    a + b has a's and b's terms, a * b those and their products, a:b the products, (a)^k the
    interactions of up to k of a's terms; a call or a name is one term."""

    CAP = 10**9  # past this the count is only compared with MAX_TERMS

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.k = 0

    def count(self) -> int:
        total = self._sum()
        while self.k < len(self.tokens):  # '~' and anything the grammar below does not join
            self.k += 1
            total = min(self.CAP, total + self._sum())
        return total

    def _peek(self) -> str:
        return self.tokens[self.k][1] if self.k < len(self.tokens) else ""

    def _sum(self) -> int:
        total = self._product()
        while self._peek() in ("+", "-"):
            self.k += 1
            total = min(self.CAP, total + self._product())
        return total

    def _product(self) -> int:
        total = self._power()
        while self._peek() in ("*", "/", ":", "%in%", "|", "||", "==", "!=", "<", ">", "<=", ">="):
            operator = self._peek()
            self.k += 1
            other = self._power()
            crossed = total * other
            total = total + other + crossed if operator == "*" else total + crossed if operator == "/" else crossed
            total = min(self.CAP, total)
        return total

    def _power(self) -> int:
        base = self._atom()
        if self._peek() in ("**", "^"):
            self.k += 1
            if self._peek() in ("-", "+"):
                self.k += 1
            exponent = self.tokens[self.k] if self.k < len(self.tokens) else ("", "", 0)
            self.k += 1
            if exponent[0] == "number":
                order = max(1, min(int(float(exponent[1])), base, MAX_POWER))
                return min(self.CAP, sum(math.comb(min(base, self.CAP), j) for j in range(1, order + 1)))
        return base

    def _atom(self) -> int:
        if self._peek() in ("-", "+"):  # unary sign
            self.k += 1
            return self._atom()
        if self.k >= len(self.tokens):
            return 0
        kind, value, _ = self.tokens[self.k]
        self.k += 1
        if value == "(":
            inner = self._sum()
            while self._peek() not in (")", ""):  # '~' or ',' inside parentheses
                self.k += 1
                inner = min(self.CAP, inner + self._sum())
            self.k += 1
            return max(inner, 1)
        if kind == "name" and self._peek() == "(":  # a call: one term, its arguments skipped
            _, close = _call_arguments(self.tokens, self.k)
            self.k = close + 1
        return 1


def _tokens(text: str, where: str) -> list[Token]:
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
    shown = text if len(text) <= 200 else text[:200] + "…"
    pointer = f"\n  {shown}\n  {' ' * position}^" if position <= 200 else f"\n  {shown}"
    return FormulaError(
        f"{message} (formula_evaluation='restricted': {where} may hold only column names, numbers, formula "
        f"operators and the transforms {', '.join(sorted(f for f in ALLOWED_FUNCTIONS if '.' not in f))}), at "
        f"position {position}:{pointer}"
    )

