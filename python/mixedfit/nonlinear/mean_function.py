"""The nonlinear model's mean as written: ``"y ~ SSlogis(age, Asym, xmid, scal)"`` (a self-starting
model, analytic gradient), ``"y ~ Asym / (1 + exp((xmid - age) / scal))"`` (an expression in the
parameters and the data's columns, R's syntax, gradient by central differences) or a Python
callable ``f(params, data)`` (gradient by central differences, or returned with the mean).

Expressions are parsed, checked to hold only arithmetic, names and a list of mathematical
functions, and evaluated with numpy: never Python's eval of arbitrary text.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ..errors import FormulaError
from .selfstart import MODELS, SelfStart

FUNCTIONS: dict[str, Callable[..., np.ndarray]] = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin, "cos": np.cos, "tan": np.tan,
    "log10": np.log10, "log2": np.log2, "log1p": np.log1p, "expm1": np.expm1, "tanh": np.tanh, "atan": np.arctan,
}  # fmt: skip
_ALLOWED = (
    ast.Expression, ast.BinOp, ast.UnaryOp, ast.Call, ast.Name, ast.Constant, ast.Load,
    ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow, ast.USub, ast.UAdd,
)  # fmt: skip
RELATIVE_STEP = 1e-6  # central differences: h = RELATIVE_STEP · max(|φ|, 1)

Values = dict[str, np.ndarray]


@dataclass(frozen=True)
class MeanFunction:
    """f(data, φ) and ∂f/∂φ for per-observation parameters φ (one array per parameter)."""

    text: str
    response: str
    parameters: tuple[str, ...]
    covariates: tuple[str, ...]
    selfstart: SelfStart | None = None
    expression: Any = field(default=None, compare=False)  # compiled, for an expression
    function: Callable[..., Any] | None = field(default=None, compare=False)  # a user's callable

    def evaluate(self, data: Values, phi: Values) -> tuple[np.ndarray, Values]:
        """The mean at each row and its derivative in each parameter (non-finite values are the
        caller's to refuse: a search's trial point may leave the model's domain)."""
        with np.errstate(all="ignore"):
            return self._evaluate(data, phi)

    def _evaluate(self, data: Values, phi: Values) -> tuple[np.ndarray, Values]:
        if self.selfstart is not None:
            covariates = [data[c] for c in self.covariates]
            value, gradient = self.selfstart.mean(covariates, [phi[p] for p in self.parameters])
            return value, dict(zip(self.parameters, gradient))
        value = self._value(data, phi)
        if isinstance(value, tuple):  # a callable that gives its gradient
            mean, gradient = value
            return np.asarray(mean, dtype=np.float64), {
                p: np.asarray(gradient[p], dtype=np.float64) for p in self.parameters
            }
        gradient = {}
        for p in self.parameters:
            h = RELATIVE_STEP * np.maximum(np.abs(phi[p]), 1.0)
            up = self._plain_value(data, {**phi, p: phi[p] + h})
            down = self._plain_value(data, {**phi, p: phi[p] - h})
            gradient[p] = (up - down) / (2 * h)
        return value, gradient

    def _plain_value(self, data: Values, phi: Values) -> np.ndarray:
        value = self._value(data, phi)
        return value[0] if isinstance(value, tuple) else value

    def _value(self, data: Values, phi: Values) -> Any:
        if self.function is not None:
            value = self.function(phi, data)
            return value if isinstance(value, tuple) else np.asarray(value, dtype=np.float64)
        n = len(next(iter(phi.values())))
        names = {**{c: data[c] for c in self.covariates}, **phi, **FUNCTIONS}
        # parse_mean admitted only arithmetic, these names and FUNCTIONS into the expression
        value = eval(self.expression, {"__builtins__": {}}, names)
        return np.broadcast_to(np.asarray(value, dtype=np.float64), (n,))


def parse_mean(
    model: str | Callable[..., Any], parameters: list[str] | None, columns: set[str], response: str | None
) -> MeanFunction:
    """The mean function of ``model``; ``parameters`` are the fixed part's names (needed for an
    expression or a callable; a self-starting model names its own)."""
    if callable(model):
        if response is None or parameters is None:
            raise FormulaError("a callable model needs response='column' and the parameters named in fixed")
        return MeanFunction(getattr(model, "__name__", "model"), response, tuple(parameters), (), function=model)
    if not isinstance(model, str) or model.count("~") != 1:
        raise FormulaError(f"model must be a formula 'y ~ f(x, parameters)' or a callable, got {model!r}")
    left, right = (part.strip() for part in model.split("~"))
    try:
        tree = ast.parse(right.replace("^", "**"), mode="eval")
    except SyntaxError:
        raise FormulaError(f"cannot parse the model's right-hand side '{right}'") from None
    body = tree.body
    if isinstance(body, ast.Call) and isinstance(body.func, ast.Name) and body.func.id in MODELS:
        return _selfstarting(model, left, body, MODELS[body.func.id], columns)
    if parameters is None:
        raise FormulaError(f"the model '{model}' is an expression: name its parameters in fixed ('a + b ~ 1')")
    for node in ast.walk(tree):
        if not isinstance(node, _ALLOWED):
            raise FormulaError(
                f"the model '{right}' may use arithmetic and {', '.join(FUNCTIONS)} only, not '{ast.unparse(node)}'"
            )
        if isinstance(node, ast.Call) and not (isinstance(node.func, ast.Name) and node.func.id in FUNCTIONS):
            raise FormulaError(
                f"the model '{right}' calls '{ast.unparse(node.func)}': known are {', '.join(FUNCTIONS)} and nlme's SS models"
            )
    names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} - set(FUNCTIONS)
    unused = [p for p in parameters if p not in names]
    if unused:
        raise FormulaError(
            f"parameter{'s' if len(unused) > 1 else ''} {', '.join(unused)} of fixed are not in the model '{right}'"
        )
    unknown = sorted(names - set(parameters) - columns)
    if unknown:
        raise FormulaError(
            f"the model '{right}' uses {', '.join(unknown)}, neither a parameter in fixed nor a column of the data"
        )
    covariates = tuple(sorted(names - set(parameters)))
    return MeanFunction(model, left, tuple(parameters), covariates, expression=compile(tree, "<model>", "eval"))


def _selfstarting(text: str, response: str, call: ast.Call, selfstart: SelfStart, columns: set[str]) -> MeanFunction:
    """A self-starting model's call; its parameters are checked against fixed by parameter_design."""
    expected = len(selfstart.covariates) + len(selfstart.parameters)
    arguments = call.args
    if call.keywords or len(arguments) != expected or not all(isinstance(a, ast.Name) for a in arguments):
        signature = ", ".join(selfstart.covariates + selfstart.parameters)
        raise FormulaError(f"{selfstart.name} takes {expected} names: {selfstart.name}({signature}), in '{text}'")
    names = [a.id for a in arguments]
    covariates, named = tuple(names[: len(selfstart.covariates)]), tuple(names[len(selfstart.covariates) :])
    missing = [c for c in covariates if c not in columns]
    if missing:
        raise FormulaError(f"{selfstart.name}'s covariate {', '.join(missing)} is not a column of the data")
    return MeanFunction(text, response, named, covariates, selfstart=selfstart)
