"""The command line: fit a model to a CSV file, or the canonical model of a bundled data set.

    mixedfit fit DATA.csv "y ~ x + (1 | g)" [--family binomial] [--ml] [--json]
    mixedfit example sleepstudy
    python -m mixedfit sleepstudy          (the same as "example sleepstudy")
"""

from __future__ import annotations

import argparse
import json
import sys
import warnings
from typing import Sequence

from . import datasets
from .errors import MixedFitError
from .models.glmm import glmer
from .models.lmm import lmer
from .models.model import MixedModel

EXAMPLES = {
    "sleepstudy": "Reaction ~ Days + (Days | Subject)",
    "Dyestuff": "Yield ~ 1 + (1 | Batch)",
    "Penicillin": "diameter ~ 1 + (1 | plate) + (1 | sample)",
    "Pastes": "strength ~ 1 + (1 | batch/cask)",
}


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mixedfit", description="Fit linear and generalized linear mixed models with lme4's formulas."
    )
    commands = parser.add_subparsers(dest="command", required=True)
    fit = commands.add_parser("fit", help="fit a model to a CSV file and print its summary")
    fit.add_argument("data", help="CSV file (quoted columns are read as factors, as R writes them)")
    fit.add_argument("formula", help="lme4 formula, e.g. 'Reaction ~ Days + (Days | Subject)'")
    fit.add_argument("--family", help="GLMM family (binomial, poisson, Gamma, inverse_gaussian, gaussian); default: an LMM")
    fit.add_argument("--link", help="link function of the family (default: the family's canonical link)")
    fit.add_argument("--nAGQ", type=int, default=1, help="GLMM quadrature points (0, 1 = Laplace, > 1)")
    fit.add_argument("--weights", help="column of prior weights (binomial: numbers of trials)")
    estimation = fit.add_mutually_exclusive_group()
    estimation.add_argument("--reml", dest="REML", action="store_true", default=True, help="REML (the default for an LMM)")
    estimation.add_argument("--ml", dest="REML", action="store_false", help="maximum likelihood")
    fit.add_argument("--json", action="store_true", help="print the estimates as JSON instead of the summary")
    example = commands.add_parser("example", help="fit the canonical model of a bundled data set")
    example.add_argument("name", choices=sorted(EXAMPLES))
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
    if not args or args[0] in EXAMPLES:  # the README's `python -m mixedfit sleepstudy`
        args = ["example", args[0] if args else "sleepstudy"]
    options = _parser().parse_args(args)
    try:
        if options.command == "example":
            model = lmer(EXAMPLES[options.name], datasets.load(options.name))
            print(model.summary())
            print()
            print(model.optsum)
            return 0
        data = datasets.read_r_csv(options.data)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            if options.family is None:
                model = lmer(options.formula, data, REML=options.REML, weights=options.weights)
            else:
                model = glmer(options.formula, data, family=options.family, link=options.link, nAGQ=options.nAGQ,
                              weights=options.weights)  # fmt: skip
    except (MixedFitError, ValueError, TypeError, OSError) as exc:
        print(f"mixedfit: error: {exc}", file=sys.stderr)
        return 1
    print(_as_json(model) if options.json else model.summary())
    for warning in caught:
        print(f"warning: {warning.message}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
