"""Parsing lme4's model formulas.

A formula such as ``Reaction ~ Days + (Days | Subject) + offset(log(n))`` is split into the
response, the fixed-effects part (left to formulaic), the random-effects terms and the offsets.
``(x || g)`` is expanded into uncorrelated terms and ``(1 | a/b)`` into ``(1 | a) + (1 | b:a)``
exactly as lme4 does, so term names and parameter order match lme4's.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from formulaic import Formula

from ..errors import FormulaError, plain_message
from .smooth_spec import SmoothSpec, parse_smooth

# glmmTMB's covariance structures of a random-effects term, written around it: ``ar1(0 + f | g)``
# (design/covariance.py says what each is).
STRUCTURES = ("us", "diag", "homdiag", "cs", "homcs", "ar1", "toep", "ou", "exp", "gau", "mat", "rr")


@dataclass(frozen=True)
class RandomTerm:
    """One ``(expr | group)`` term: the model matrix ``expr`` varies by the levels of ``group``;
    ``structure`` is its covariance structure (``"us"``, unstructured, unless written around the
    term as ``cs(x | g)``), ``rank`` rr's d."""

    expr: str
    factors: tuple[str, ...]  # the columns whose interaction is the grouping factor
    structure: str = "us"
    rank: int = 0

    @property
    def group(self) -> str:
        return ":".join(self.factors)

    def __str__(self) -> str:
        if self.structure == "us":
            return f"({self.expr} | {self.group})"
        rank = f", d = {self.rank}" if self.structure == "rr" else ""
        return f"{self.structure}({self.expr} | {self.group}{rank})"


@dataclass(frozen=True)
class ParsedFormula:
    text: str
    response: str
    fixed: str  # right-hand side for formulaic, without random terms or offsets
    random: tuple[RandomTerm, ...]
    offsets: tuple[str, ...]  # expressions inside offset(...)
    smooths: tuple[SmoothSpec, ...] = ()  # s(...) terms (design/smooths.py)


_BACKTICKED = re.compile(r"`[^`]+`")


def _unquoted(name: str) -> str:
    return name[1:-1] if _BACKTICKED.fullmatch(name) else name


# R's as.factor(x) is not a Python name: it is evaluated as this one (formulaic's C under another
# name, see matrices.FORMULA_FUNCTIONS), and the columns' names spell it as R does again.
AS_FACTOR = "_function_as_factor"
_AS_FACTOR_CALL = re.compile(r"(?<![\w.])as\.factor\(")


def _masked(text: str) -> str:
    """text with every character inside backticks replaced by '_' (same length): what the
    splitter scans, so that a quoted name may hold any of '~ | + - ( ) :'; pieces are cut from
    the text itself."""
    parts = text.split("`")
    if len(parts) % 2 == 0:
        raise _error(text, text.rindex("`"), "unclosed '`'")
    return "`".join(part if k % 2 == 0 else "_" * len(part) for k, part in enumerate(parts))


# A name with a dot in it (R's data frames are full of them: initial.snail.density), not a call.
_DOTTED_NAME = re.compile(r"(?<![\w.])([A-Za-z.][\w]*(?:\.[\w]*)+)(?![\w.]|\s*\()")


def quote_dotted_columns(formula: str, columns: Iterable[object]) -> str:
    """formula with every dotted name that is a data column backtick-quoted, so that Python's
    formula machinery reads crab.sizeS as R does (one variable), not as an attribute of crab;
    text already inside backticks, and dotted names that are not columns (np.log(x)), are kept."""
    names = {c for c in columns if isinstance(c, str) and "." in c}
    if not names:
        return formula
    parts = formula.split("`")
    for k in range(0, len(parts), 2):  # the parts outside backticks
        parts[k] = _DOTTED_NAME.sub(lambda m: f"`{m.group(1)}`" if m.group(1) in names else m.group(1), parts[k])
    return "`".join(parts)


def r_to_formulaic(expr: str) -> str:
    """R's formula idioms in formulaic's terms: as.factor(x) under a Python name (factor(x) is one:
    both are formulaic's C, a categorical with treatment contrasts, so the columns are named
    factor(x)2 as R names them), and '^' inside I(...) as '**' (a power in R; Python's '^' is
    XOR); backtick-quoted names are left as they are."""
    parts = expr.split("`")
    expr = "`".join(_AS_FACTOR_CALL.sub(f"{AS_FACTOR}(", part) if k % 2 == 0 else part for k, part in enumerate(parts))
    return _power_inside_I(expr)


def _power_inside_I(expr: str) -> str:
    out, depth_of_I, depth = [], [], 0
    masked = _masked(expr)
    for k, ch in enumerate(masked):
        if ch != expr[k]:  # inside backticks
            out.append(expr[k])
            continue
        if ch == "(":
            depth += 1
            if k > 0 and expr[k - 1] == "I" and (k < 2 or not (expr[k - 2].isalnum() or expr[k - 2] in "._")):
                depth_of_I.append(depth)
        elif ch == ")":
            if depth_of_I and depth_of_I[-1] == depth:
                depth_of_I.pop()
            depth -= 1
        out.append("**" if ch == "^" and depth_of_I else ch)
    return "".join(out)


def _error(formula: str, position: int, message: str) -> FormulaError:
    pointer = " " * position + "^"
    return FormulaError(f"{message} at position {position} of the formula:\n  {formula}\n  {pointer}")


def _depths(masked: str, formula: str) -> list[int]:
    """Parenthesis depth before each character of the (masked) formula; raises on unbalanced
    parentheses, showing the formula."""
    depths, depth, opened = [], 0, []
    for i, ch in enumerate(masked):
        if ch == ")":
            if not opened:
                raise _error(formula, i, "unmatched ')'")
            opened.pop()
            depth -= 1
        depths.append(depth)
        if ch == "(":
            opened.append(i)
            depth += 1
    if opened:
        raise _error(formula, opened[-1], "unclosed '('")
    return depths


def _split_top_level(text: str, masked: str, depths: list[int], start: int, end: int) -> list[tuple[str, str, int]]:
    """Split text[start:end] at depth-0 '+' and '-' (of its masked form) into (sign, piece,
    position) triples."""
    pieces, sign, begin = [], "+", start
    for i in range(start, end):
        if depths[i] == 0 and masked[i] in "+-":
            pieces.append((sign, text[begin:i], begin))
            sign, begin = text[i], i + 1
    pieces.append((sign, text[begin:end], begin))
    return pieces


def _is_wrapped(piece: str) -> bool:
    """True when the whole piece is one parenthesized group: '(…)'."""
    piece = _masked(piece)
    if not (piece.startswith("(") and piece.endswith(")")):
        return False
    depth = 0
    for i, ch in enumerate(piece):
        depth += ch == "("
        depth -= ch == ")"
        if depth == 0 and i < len(piece) - 1:
            return False
    return True


def _grouping_factors(group: str, formula: str, position: int) -> list[tuple[str, ...]]:
    """'a' -> [(a,)], 'a:b' -> [(a, b)], 'a/b' -> [(a,), (b, a)] as lme4's expandSlash."""
    group = group.strip()
    while _is_wrapped(group):
        group = group[1:-1].strip()
    if not group:
        raise _error(formula, position, "missing grouping factor after '|'")
    # Names may be backtick-quoted (`my group`), and such a name may hold ':' or '/'.
    pieces = re.findall(r"`[^`]*`|[^`/:]+|[/:]", group)
    nested: list[list[str]] = [[""]]
    for piece in pieces:
        if piece == "/":
            nested.append([""])
        elif piece == ":":
            nested[-1].append("")
        else:
            nested[-1][-1] += piece
    terms, outer = [], ()
    for part in nested:
        for f in (f.strip() for f in part):
            if not (f.isidentifier() or _BACKTICKED.fullmatch(f)):
                raise _error(
                    formula,
                    position,
                    f"grouping factor '{f}' in '{group}' must be a column name "
                    "(use ':' for interactions and '/' for nesting)",
                )
        factors = tuple(_unquoted(f.strip()) for f in part)
        outer = factors + outer
        terms.append(outer)
    return terms


def _expand_uncorrelated(expr: str, formula: str, position: int) -> list[str]:
    """lme4's expandDoubleVerts: (x || g) -> (1 | g) + (0 + x | g)."""
    try:
        terms = [":".join(_factor_text(f) for f in t.factors) for t in Formula(expr)]
    except Exception as exc:  # formulaic's parse errors, reported at our position
        raise _error(formula, position, f"cannot parse '{expr}': {plain_message(exc)}") from None
    return ["1" if t == "1" else f"0 + {t}" for t in terms]


def _factor_text(factor) -> str:
    """A formulaic factor written back as formula text: a column name that is not an identifier
    (formulaic has dropped its backticks) is quoted again."""
    name = factor.expr
    if factor.eval_method.value == "lookup" and not name.isidentifier() and name != "1":
        return f"`{name}`"
    return name


_STRUCTURED = re.compile(r"(" + "|".join(STRUCTURES) + r")\s*(?=\()")


def _structure_of(text: str) -> tuple[str, int]:
    """('cs', 3) for 'cs(x | g)': a structure's name and where its parenthesized term begins;
    ('us', 0) for a plain '(x | g)'; ('', 0) for anything else."""
    match = _STRUCTURED.match(text)
    if match and _is_wrapped(text[match.end() :]):
        return match.group(1), match.end()
    return ("us", 0) if _is_wrapped(text) else ("", 0)


def _rank_argument(group: str, formula: str, position: int) -> tuple[str, int]:
    """rr's 'g, d = 2' → ('g', 2); d defaults to 2, as glmmTMB's."""
    masked = _masked(group)
    if "," not in masked:
        return group, 2
    cut = masked.index(",")
    argument = re.fullmatch(r"\s*d\s*=\s*(\d+)\s*", group[cut + 1 :])
    if argument is None:
        raise _error(formula, position + cut, "rr's rank is written 'rr(0 + f | g, d = 2)'")
    return group[:cut], int(argument.group(1))


def _random_terms(piece: str, formula: str, position: int, structure: str = "us") -> list[RandomTerm]:
    inner = piece[1:-1]
    depth, bar = 0, -1
    for i, ch in enumerate(_masked(inner)):
        depth += ch == "("
        depth -= ch == ")"
        if ch == "|" and depth == 0:
            bar = i
            break
    double = _masked(inner)[bar + 1 : bar + 2] == "|"
    expr = inner[:bar].strip()
    group = inner[bar + (2 if double else 1) :]
    if not expr:
        raise _error(formula, position + 1, "missing expression before '|' in random-effects term")
    if double and structure != "us":
        raise _error(formula, position + bar + 1, f"'||' inside {structure}(...): write {structure}({expr} | ...)")
    rank = 0
    if structure == "rr":
        group, rank = _rank_argument(group, formula, position + bar + 2)
    elif "," in _masked(group):
        raise _error(formula, position + bar + 2 + _masked(group).index(","), "unexpected ',' in a random-effects term")
    exprs = _expand_uncorrelated(expr, formula, position) if double else [expr]
    groups = _grouping_factors(group, formula, position + bar + 2)
    return [RandomTerm(e, factors, structure, rank) for factors in groups for e in exprs]


def parse_formula(formula: str) -> ParsedFormula:
    """Split an lme4 formula into response, fixed part, random-effects terms and offsets."""
    if not isinstance(formula, str):
        raise TypeError(f"formula must be a string such as 'y ~ x + (1 | g)', got {type(formula).__name__}")
    masked = _masked(formula)  # what is scanned: nothing inside a backtick-quoted name splits
    depths = _depths(masked, formula)
    tildes = [i for i, ch in enumerate(masked) if ch == "~" and depths[i] == 0]
    if not tildes:
        raise FormulaError(f"formula '{formula}' has no '~': write it as 'response ~ terms'")
    if len(tildes) > 1:
        raise _error(formula, tildes[1], "a second '~'")
    tilde = tildes[0]
    response = formula[:tilde].strip()
    if not response:
        raise _error(formula, 0, "missing response before '~'")

    fixed, random, offsets, smooths = [], [], [], []
    for sign, piece, start in _split_top_level(formula, masked, depths, tilde + 1, len(formula)):
        text = piece.strip()
        position = start + len(piece) - len(piece.lstrip())
        for i, ch in enumerate(masked[position : position + len(text)]):
            if ch == "|" and depths[position + i] == 0:
                raise _error(formula, position + i, "'|' outside parentheses: write random effects as '(expr | group)'")
        if not text:
            if start == tilde + 1:
                continue  # a leading sign, as in 'y ~ -1 + x', leaves an empty first piece
            raise _error(formula, start, "empty term")
        if re.match(r"s\s*\(", text) and _is_wrapped(text[text.index("(") :]):
            if sign == "-":
                raise _error(formula, position, f"'{text}' cannot be subtracted")
            smooths.append(parse_smooth(text))
            continue
        structure, opening = _structure_of(text)
        is_random = bool(structure) and any(
            ch == "|" and depths[position + opening + i] == 1
            for i, ch in enumerate(masked[position + opening : position + len(text)])
        )
        if is_random or text.startswith("offset("):
            if sign == "-":
                raise _error(formula, position, f"'{text}' cannot be subtracted")
            if is_random:
                random.extend(_random_terms(text[opening:], formula, position + opening, structure))
            else:
                if not _is_wrapped(text[len("offset") :]):
                    raise _error(formula, position, "malformed offset(...)")
                offsets.append(text[len("offset(") : -1].strip())
        else:
            fixed.append(f"{sign} {text}")
    fixed_rhs = " ".join(fixed).lstrip("+ ").strip() if fixed else "1"
    if fixed_rhs.startswith("-"):
        fixed_rhs = "1 " + fixed_rhs
    random = [dataclasses.replace(t, expr=r_to_formulaic(t.expr)) for t in random]
    return ParsedFormula(
        formula,
        response,
        r_to_formulaic(fixed_rhs),
        tuple(random),
        tuple(r_to_formulaic(o) for o in offsets),
        tuple(smooths),
    )
