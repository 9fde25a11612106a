"""Import the compiled core built for the best instruction set this CPU supports.

The package ships a baseline build (_core) and, on x86-64, one for x86-64-v3 (AVX2, FMA,
BMI2: CPUs since about 2013), whose dense Cholesky is 2.5× faster. Set MIXEDFIT_CORE=baseline
to force the baseline build. The baseline build asks the CPU which one it can run.
"""

from __future__ import annotations

import importlib
import os


def _load():
    baseline = importlib.import_module("mixedfit._core")
    if os.environ.get("MIXEDFIT_CORE", "") != "baseline" and baseline.cpu_supports_x86_64_v3():
        try:
            return importlib.import_module("mixedfit._core_x86_64_v3")
        except ModuleNotFoundError:  # not built on this platform (a build that fails to load is an error)
            pass
    return baseline


_core = _load()
