"""The command line: fit a model to a CSV file, or the canonical model of a bundled data set.

mixedfit fit DATA.csv "y ~ x + (1 | g)" [--family binomial] [--ml] [--json]
mixedfit example sleepstudy [--json]
python -m mixedfit sleepstudy          (the same as "example sleepstudy")
mixedfit                               (help)
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import warnings
from typing import Sequence

from . import datasets
from .errors import MixedFitError
from .models.families import FAMILY_NAMES
from .models.glmm import glmer
from .models.lmm import lmer
from .models.model import MixedModel

# Each bundled data set's canonical model (lme4's examples): formula and GLMM family (None: an LMM).
EXAMPLES: dict[str, tuple[str, str | None]] = {
    "sleepstudy": ("Reaction ~ Days + (Days | Subject)", None),
    "Dyestuff": ("Yield ~ 1 + (1 | Batch)", None),
    "Dyestuff2": ("Yield ~ 1 + (1 | Batch)", None),
    "Penicillin": ("diameter ~ 1 + (1 | plate) + (1 | sample)", None),
    "Pastes": ("strength ~ 1 + (1 | batch/cask)", None),
    "cbpp": ("cbind(incidence, size - incidence) ~ period + (1 | herd)", "binomial"),
    "grouseticks": ("TICKS ~ YEAR + cHEIGHT + (1 | BROOD) + (1 | LOCATION)", "poisson"),
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mixedfit", description="Fit linear and generalized linear mixed models with lme4's formulas."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="fit a model to a CSV file and print its summary")
    fit.add_argument("data", help="CSV file (quoted columns are read as factors, as R writes them)")
    fit.add_argument("formula", help="lme4 formula, e.g. 'Reaction ~ Days + (Days | Subject)'")
    fit.add_argument("--family", help=f"GLMM family ({', '.join(FAMILY_NAMES)}); default: an LMM")
    fit.add_argument("--link", help="link function of the family (default: the family's canonical link)")
    fit.add_argument("--nAGQ", type=int, default=1, help="GLMM quadrature points (0, 1 = Laplace, > 1)")
    fit.add_argument("--weights", help="column of prior weights (binomial: numbers of trials)")
    estimation = fit.add_mutually_exclusive_group()
    estimation.add_argument(
        "--reml", dest="REML", action="store_true", default=True, help="REML (the default for an LMM)"
    )
    estimation.add_argument("--ml", dest="REML", action="store_false", help="maximum likelihood")
    fit.add_argument("--json", action="store_true", help="print the estimates as JSON instead of the summary")
    example = commands.add_parser("example", help="fit the canonical model of a bundled data set")
    example.add_argument("name", choices=sorted(EXAMPLES), help="; ".join(f"{k}: {v[0]}" for k, v in EXAMPLES.items()))
    example.add_argument("--json", action="store_true", help="print the estimates as JSON instead of the summary")
    return parser


def _as_json(model: MixedModel) -> str:
    return json.dumps(
        {
            "formula": model.formula,
            "kind": type(model).__name__,
            "nobs": model.nobs,
            "fixef": model.fixef.to_dict(),
            "stderr": model.stderr.to_dict(),
            "theta": model.theta.tolist(),
            "sigma": model.sigma,
            "loglik": model.loglik,
            "objective": model.objective,
            "aic": model.aic,
            "bic": model.bic,
            "varcorr": model.VarCorr.to_dict(orient="records"),
            "singular": model.is_singular(),
            "convergence_problems": list(getattr(model, "convergence_problems", [])),
        },
        indent=2,
    )


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    parser = _parser()
    if not args:
        parser.print_help()
        return 0
    if args[0] in EXAMPLES:  # the README's `python -m mixedfit sleepstudy`
        args = ["example", *args]
    options = parser.parse_args(args)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if options.command == "example":
                formula, family = EXAMPLES[options.name]
                data, REML, weights, link, nAGQ = datasets.load(options.name), True, None, None, 1
            else:
                data, formula, family = datasets.read_r_csv(options.data), options.formula, options.family
                REML, weights, link, nAGQ = options.REML, options.weights, options.link, options.nAGQ
            if family is None:
                model = lmer(formula, data, REML=REML, weights=weights)
            else:
                model = glmer(formula, data, family=family, link=link, nAGQ=nAGQ, weights=weights)
    except (MixedFitError, ValueError, TypeError, OSError) as exc:
        print(f"mixedfit: error: {exc}", file=sys.stderr)
        return 1
    if options.json:
        print(_as_json(model))
    else:
        print(model.summary())
        if options.command == "example":
            print()
            print(model.optsum)
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return 0


def run() -> int:
    """main() for the console script and python -m: a reader that stops early (``| head``) ends
    the output quietly, as command-line tools do."""
    try:
        code = main()
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit; point it at devnull so that flush cannot fail.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    return code


if __name__ == "__main__":
    sys.exit(run())
