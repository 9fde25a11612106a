"""The smooth terms of a formula as written: ``s(x, z, bs="cr", k=10, by=f)`` read into what it
asks for (design/smooths.py builds them)."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from ..errors import FormulaError

BASES = ("tp", "cr", "ps")


@dataclass(frozen=True)
class SmoothSpec:
    """An ``s(...)`` as written: its covariates, basis, basis dimension (None: mgcv's default)
    and ``by`` variable."""

    text: str
    variables: tuple[str, ...]
    basis: str = "tp"
    k: int | None = None
    by: str | None = None

    @property
    def label(self) -> str:
        """mgcv's label: 's(x)', 's(x,z)', 's(x):f' with a by variable."""
        core = f"s({','.join(self.variables)})"
        return f"{core}:{self.by}" if self.by else core

    @property
    def columns(self) -> tuple[str, ...]:
        return self.variables + ((self.by,) if self.by else ())


def parse_smooth(text: str) -> SmoothSpec:
    """An ``s(x, z, bs="cr", k=10, by=f)`` call read as Python syntax (R's is the same here)."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
    except SyntaxError:
        raise FormulaError(f"cannot parse the smooth term '{text}': write s(x, bs=\"cr\", k=10)") from None
    if not (isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id == "s"):
        raise FormulaError(f"'{text}' is not a smooth term s(...)")
    variables = []
    for arg in call.args:
        if not isinstance(arg, ast.Name):
            raise FormulaError(f"smooth term '{text}': its covariates must be column names, got '{ast.unparse(arg)}'")
        variables.append(arg.id)
    if not variables:
        raise FormulaError(f"smooth term '{text}' names no covariate")
    options: dict[str, Any] = {}
    for keyword in call.keywords:
        name, value = keyword.arg, keyword.value
        if name == "bs" and isinstance(value, ast.Constant) and value.value in BASES:
            options["basis"] = value.value
        elif name == "k" and isinstance(value, ast.Constant) and isinstance(value.value, int):
            options["k"] = value.value
        elif name == "by" and isinstance(value, ast.Name):
            options["by"] = value.id
        else:
            raise FormulaError(
                f"smooth term '{text}': unsupported argument '{ast.unparse(keyword)}' (mixedfit's s() takes "
                f"bs = one of {', '.join(repr(b) for b in BASES)}, an integer k and by = a column)"
            )
    spec = SmoothSpec(text.strip(), tuple(variables), **options)
    if spec.basis in ("cr", "ps") and len(variables) > 1:
        raise FormulaError(f"smooth term '{text}': bs='{spec.basis}' is for one covariate; use bs='tp' for several")
    return spec
