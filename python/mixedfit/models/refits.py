"""Refits of a model's design to many responses — the parametric bootstrap and fit_many — on
threads, each from one start so that the results do not depend on the thread count: a mixin of
MixedModel."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor, wait
from typing import Any

import numpy as np
import pandas as pd

from .. import threads
from ..errors import DataError, NumericalError, positive_int
from ..inference.parameters import SINGULAR_TOLERANCE, thetas_to_sdcor
from ..progress import Progress
from .synchronization import synchronized

# Why a refit did not converge (fit_many's reason column), other than an error's own message.
EVALUATION_LIMIT = "the optimizer reached its evaluation limit"
CRITERION_FAILED = "NumericalError: the criterion could not be evaluated (not positive definite or not finite)"


class Refits:
    """bootstrap and the refits behind it and fit_many (the model supplies _replica's parts)."""

    @synchronized
    def bootstrap(
        self, nsim: int = 500, seed: int | None = None, n_threads: int | None = None, progress: bool = False
    ) -> pd.DataFrame:
        """Parametric bootstrap: nsim responses simulated from the fit (reproducible with seed, for
        any n_threads) and refitted from the estimates on n_threads threads (default: the model's
        n_threads, else mixedfit.get_threads()); progress=True reports the refits done (a tqdm bar
        if tqdm is installed). Ctrl-C stops it within about a second, leaving the model as it was.
        One row of parameters per replicate (columns as parameter_names()); attrs['singular'] and
        attrs['not_converged'] count flagged refits (a refit whose criterion failed is a row of NaN).

        Parameters
        ----------
        nsim : int, default 500
            Number of bootstrap replicates.
        seed : int, optional
            For reproducible replicates (the same for any n_threads).
        n_threads : int, optional
            Threads for the refits.
        progress : bool, default False
            Report the refits done.

        Returns
        -------
        DataFrame
            One row of parameters per replicate (columns as ``parameter_names()``).
        """
        self._require_fit()
        nsim = positive_int(nsim, "nsim")
        n_threads = threads.resolve(n_threads if n_threads is not None else self.n_threads)
        responses = self.simulate(nsim, seed).to_numpy()
        n_threads = min(n_threads, nsim)
        counter = Progress(nsim, "bootstrap", progress)
        try:
            parameters, singular, failed = self._refit_replicates(responses, n_threads, counter)
        finally:
            counter.close()
        table = pd.DataFrame(parameters, columns=self.parameter_names())
        table.attrs["singular"] = int(singular.sum())
        table.attrs["not_converged"] = int(failed.sum())
        return table

    def _refit_replicates(
        self, responses: np.ndarray, n_threads: int, progress: Progress | None = None
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Parameters on the profile scale (one row per column of responses), singular and
        not-converged flags of refits that all start from the estimates (so that the results do
        not depend on n_threads)."""
        fits = self._fit_responses(responses, n_threads, self._theta, progress)
        parameters = np.column_stack([self._variance_parameters(fits), fits["beta"].T])
        return parameters, self._singular(fits), ~fits["converged"]

    def _variance_parameters(self, fits: dict[str, np.ndarray]) -> np.ndarray:
        """Each fit's variance parameters on lme4's sd/cor scale, then σ if the model has one."""
        variance = thetas_to_sdcor(self.design, fits["theta"], fits["sigma"])
        # σ as the models report it (a variance function's in nlme's terms; see variance)
        sigma = fits["sigma"] / fits.get("sigma_scale", 1.0)
        return np.column_stack([variance, sigma]) if self._has_residual else variance

    def _singular(self, fits: dict[str, np.ndarray]) -> np.ndarray:
        """Whether each fit is singular (lme4's isSingular)."""
        return self.design.at_boundary(fits["theta"], SINGULAR_TOLERANCE)

    def _fit_responses(
        self, responses: np.ndarray, n_threads: int, start: np.ndarray | None, progress: Progress | None = None
    ) -> dict[str, np.ndarray]:
        """Fits of this model's design to each column of responses, each from θ = start (None: the
        model kind's start for that response, as a separate fit's): θ, β, β's
        standard errors (from RX: no Hessian), σ, the objective, evaluations and whether the
        optimizer converged, one column or entry per response. On a pool of Python threads, one
        replica of the model each (the deviance evaluations release the GIL). Ctrl-C stops the
        workers after the refit each is in and raises KeyboardInterrupt; the model is untouched."""
        chunks = [c for c in np.array_split(np.arange(responses.shape[1]), n_threads) if len(c)]
        stop = threading.Event()

        def fit_chunk(indices: np.ndarray) -> list[tuple | str]:
            replica = self._replica()
            out: list[tuple | str] = []
            for k in indices:
                if stop.is_set():
                    break
                try:
                    replica._set_response(responses[:, k])
                    replica._restart_optimizer(replica._data_based_start() if start is None else start)
                    replica.fit()
                except (NumericalError, DataError) as error:  # this response cannot be fitted: a row of NaN
                    out.append(f"{type(error).__name__}: {error}")
                else:
                    converged = replica.optsum.return_code not in ("MAXEVAL_REACHED", "MAXTIME_REACHED")
                    se = np.sqrt(np.diag(replica._vcov))
                    out.append((
                        replica._theta, replica._beta, se, replica._sigma, replica._objective, replica.optsum.feval,
                        converged, replica._sigma_scale(),
                    ))  # fmt: skip
                if progress is not None:
                    progress.advance()
            return out

        pool = ThreadPoolExecutor(max_workers=len(chunks))
        futures = [pool.submit(fit_chunk, c) for c in chunks]
        try:
            while not all(f.done() for f in futures):  # short waits: the main thread sees Ctrl-C
                wait(futures, timeout=0.1)
        except KeyboardInterrupt:
            stop.set()
            raise
        finally:
            pool.shutdown(wait=True)
        rows = [row for f in futures for row in f.result()]
        k, p = len(self.design.theta0), self.design.fixed.X.shape[1]
        failed = (np.full(k, np.nan), np.full(p, np.nan), np.full(p, np.nan), np.nan, np.nan, 0, False, 1.0)
        reasons = [row if isinstance(row, str) else "" if row[6] else EVALUATION_LIMIT for row in rows]
        rows = [failed if isinstance(row, str) else row for row in rows]
        columns = list(zip(*rows))
        return {
            "theta": np.column_stack(columns[0]).reshape(k, -1),
            "beta": np.column_stack(columns[1]).reshape(p, -1),
            "stderr": np.column_stack(columns[2]).reshape(p, -1),
            "sigma": np.array(columns[3], dtype=float),
            "objective": np.array(columns[4], dtype=float),
            "evaluations": np.array(columns[5]),
            "converged": np.array(columns[6], dtype=bool),
            "reasons": np.array(reasons, dtype=object),
            "sigma_scale": np.array(columns[7], dtype=float),
        }

    def _replica(self) -> Any:
        """A copy with its own compiled core, for refits in another thread: a copy of this model's
        (its cross-products and its factorization's choice and ordering, not computed again);
        its factorization stays on one thread, as the replicas already run one per core."""
        replica = object.__new__(type(self))  # shares everything but the core and the lock
        replica.__dict__.update(self.__dict__)
        replica._lock = threading.RLock()
        replica._quiet = True
        replica._core = self._core._copy()
        replica._core.threads = 1
        return replica

