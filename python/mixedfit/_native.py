"""Import the compiled core built for the best instruction set this CPU supports.

The package ships a baseline build (_core) and, on x86-64, one for x86-64-v3 (AVX2, FMA,
BMI2: CPUs since about 2013), whose dense Cholesky is 2.5× faster. Set MIXEDFIT_CORE=baseline
to force the baseline build.
"""

from __future__ import annotations

import importlib
import os


def _supports_x86_64_v3() -> bool:
    try:
        from numpy._core._multiarray_umath import __cpu_features__ as features
    except ImportError:  # numpy < 2
        from numpy.core._multiarray_umath import __cpu_features__ as features
    if "X86_V3" in features:
        return bool(features["X86_V3"])
    return all(features.get(f, False) for f in ("AVX2", "FMA3", "BMI2", "F16C", "LZCNT", "MOVBE"))


def _load():
    if os.environ.get("MIXEDFIT_CORE", "") != "baseline" and _supports_x86_64_v3():
        try:
            return importlib.import_module("mixedfit._core_x86_64_v3")
        except ImportError:  # not built on this platform
            pass
    return importlib.import_module("mixedfit._core")


_core = _load()
