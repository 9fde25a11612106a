"""python -m mixedfit [data set]: fit the canonical model of a bundled data set and print it."""

from __future__ import annotations

import sys

from . import datasets
from .lmm import lmer

EXAMPLES = {
    "sleepstudy": "Reaction ~ Days + (Days | Subject)",
    "Dyestuff": "Yield ~ 1 + (1 | Batch)",
    "Penicillin": "diameter ~ 1 + (1 | plate) + (1 | sample)",
    "Pastes": "strength ~ 1 + (1 | batch/cask)",
}


def main(argv: list[str]) -> int:
    name = argv[0] if argv else "sleepstudy"
    if name not in EXAMPLES:
        print(f"usage: python -m mixedfit [{' | '.join(EXAMPLES)}]", file=sys.stderr)
        return 2
    model = lmer(EXAMPLES[name], datasets.load(name))
    print(model.summary())
    print()
    print(model.optsum)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
