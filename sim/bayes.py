"""Bayesian calibration by approximate Bayesian computation (ABC): posterior distributions
of the parameters of one or more candidate models given a record, posterior model
probabilities, posterior predictive runs and convergence diagnostics.

Method
------
ABC-SMC (Toni et al. 2009, *J R Soc Interface* 6:187; model choice: Toni and Stumpf
2010, *Bioinformatics* 26:104) as pyABC implements it (Klinger, Rickert and Hasenauer
2018, *Bioinformatics* 34:3591). A population of parameter values (particles) is drawn
from the prior and run; each later generation perturbs the previous population's
particles (a multivariate normal kernel with Silverman's bandwidth, on the log scale for a
log-uniform prior), runs them, and keeps those that the acceptance step accepts, weighted
by prior over proposal density, until it holds ``population_size`` particles. With
several candidate models, each particle also carries a model, perturbed from the previous
generation's models; the share of the weight a model holds is its posterior probability.
Two acceptance steps, chosen by ``method``:

* ``"distance"``, for a stochastic model (the agent-based model: each run is a draw):
  a particle is accepted when the weighted Euclidean distance between its run and the
  observations, ``sqrt(sum_i w_i (y_i - x_i)^2)``, is within the generation's threshold,
  the weighted median of the previous generation's distances (the first generation
  takes every particle: it is the prior predictive sample). The weights are given:
  :func:`abc_model` gives each observed series one over its variance between replicate
  runs (as :func:`sim.calibration.calibrate_model` weighs its objective), so that each
  counts by the model's own noise (a Mahalanobis distance with a diagonal covariance).
  pyABC's adaptive distance (Prangle 2017) would reweigh every generation by
  the spread of the runs, parameter effects included: the distance, hence the target,
  would change between generations, and the generations would not be comparable in the
  convergence check below. The result is the ABC posterior at the last threshold.
* ``"exact"``, for a deterministic model whose observations carry Gaussian noise (the
  Lanchester laws: an ODE, with the noise in the record): the model object returns its
  predictions whitened and scaled, so that ``observed - simulate(...)`` is standard
  normal under the noise model. A particle is accepted with probability
  ``(N(observed - simulate; 0, I) / c)^(1/T)`` (pyABC's ``StochasticAcceptor``,
  ``IndependentNormalKernel(var=1)`` and ``Temperature``): at temperature ``T = 1`` this
  is the exact posterior under that likelihood (Wilkinson 2013, *Stat Appl Genet Mol
  Biol* 12:129, "Approximate Bayesian computation (ABC) gives exact results under the
  assumption of model error"); the temperature falls from generation to generation and
  reaches 1 by the last one (Schälte and Hasenauer 2020, *Bioinformatics* 36:i551).

Runs go to :func:`sim.executors.executor_for` (this process, local processes, or a Dask
cluster) through :class:`SeededSampler`, and the posterior does not depend on which, nor
on the number of workers: particle ``i`` of generation ``t`` draws its proposal, its
model run's seed and its acceptance from a state seeded by
``SeedSequence(seed, spawn_key=(1, t + 1, i))``; particles run in batches whose size
depends only on the counts so far; the population is the first ``population_size``
accepted in index order. pyABC's own steps in this process (thresholds, temperatures,
kernel fits, weights) are deterministic given the populations, and this process's
global ``np.random`` state is seeded from the master seed for the run and restored after.

Diagnostics
-----------
Each generation reports its threshold (or temperature), its acceptance rate, the
effective sample size of its weights (``(sum w)^2 / sum w^2``), the runs it took, the
model probabilities, and how far each posterior mean moved from the previous generation,
in posterior sds. Exact ABC has converged when its last generation is at temperature 1.
ABC with a distance has converged when the last two generations' means differ by no more
than twice their Monte-Carlo error, ``2 sqrt(2 / ESS)`` sds (at least 0.1), and no model's
probability moved by more than 0.05: a smaller threshold would no longer change the
posterior that this population size can resolve. The verdict says so in words, with what
stopped the run (the run budget, the minimum acceptance rate, the last generation).

The model object
----------------
A candidate model is any picklable object with

* ``name: str``, unique among the candidates;
* ``priors: dict[str, tuple[float, float]]``: each parameter's prior range in natural
  units, log-uniform when both ends are positive, uniform otherwise (the order of the
  dict is the order of the parameters in the result);
* ``simulate(parameters: dict[str, float], seed: int) -> np.ndarray``: the summary at
  ``parameters`` (natural units) for a run with ``seed`` (a deterministic model ignores
  it), of the shape of ``observed``. Elements where ``observed`` is NaN are not compared
  (the posterior predictive keeps them). For ``method="exact"`` the summary is the
  whitened, scaled prediction, so that ``observed - simulate`` is standard normal.

    >>> class Decay:
    ...     name, priors = "decay", {"rate": (0.01, 1.0)}
    ...     def simulate(self, parameters, seed):
    ...         return 100 * np.exp(-parameters["rate"] * np.arange(10.0)) / 2.0
    >>> observed = Decay().simulate({"rate": 0.2}, 0) + np.random.default_rng(1).normal(
    ...     0, 1, 10)
    >>> found = abc_smc([Decay()], observed, method="exact", population_size=100,
    ...                 max_generations=6, predictive_runs=0, seed=1)
    >>> low, high = found.intervals["rate"]
    >>> bool(low < 0.2 < high), found.converged
    (True, True)

Scenario keys of the agent-based model are fitted by :func:`abc_model`, which takes the
arguments of :func:`sim.calibration.calibrate_model`.
"""

from __future__ import annotations

import logging
import math
import os
import tempfile
import threading
import uuid
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cloudpickle
import numpy as np
import pandas as pd

_OMP_THREADS = os.environ.get("OMP_NUM_THREADS")
import pyabc  # noqa: E402
from pyabc.sampler import Sampler  # noqa: E402

# Importing pyABC sets OMP_NUM_THREADS=1 for this process and its children; importing
# this module leaves the environment as it was.
if _OMP_THREADS is None:
    os.environ.pop("OMP_NUM_THREADS", None)

from sim.calibration import FitKey, SeriesEvaluator, fitted_series  # noqa: E402
from sim.executors import executor_for  # noqa: E402
from sim.lawfit import FIT_LAWS, LawFit, LawModel, Record, compare_laws  # noqa: E402

METHODS = ("distance", "exact")
#: Bounds on the sizes a caller may ask for, checked before anything is allocated or run.
MAX_POPULATION_SIZE = 10_000
MAX_RUNS = 1_000_000
MAX_GENERATIONS = 100
MAX_PREDICTIVE_RUNS = 10_000
MAX_MODELS = 20
MAX_SUMMARY_ELEMENTS = 1_000_000
#: Population size times summary elements: the floats a generation's particles hold.
MAX_POPULATION_ELEMENTS = 50_000_000
#: Streams of the seed scheme under the master seed (``SeedSequence`` spawn keys).
_PARTICLES, _PREDICTIVE, _MAIN, _SPREAD = 1, 2, 3, 4
#: A model probability that moved by more than this between the last two generations
#: has not converged.
PROBABILITY_TOLERANCE = 0.05
#: Runs at each of three prior points (centre and both corners) that give the replicate
#: variance of each series in :func:`abc_model`: the variance of a mean of 4 runs was
#: seen to vary tenfold between seeds.
SPREAD_REPLICATES = 8


class CandidateModel(Protocol):
    """A model the posterior is over (see the module docstring)."""

    name: str
    priors: dict[str, tuple[float, float]]

    def simulate(self, parameters: dict[str, float], seed: int) -> np.ndarray: ...


# ---------------------------------------------------------------------------------------
# The seeded sampler: particles evaluated in batches on our executors, in index order.

#: pyABC draws proposals and acceptances from the global ``np.random`` state: one particle
#: at a time per process (a Dask worker may run several tasks at once on threads).
_RANDOM_LOCK = threading.Lock()
#: The last generation's ``simulate_one`` unpickled in this process, by its key.
_LOADED: dict[str, Callable] = {}


def particle_state(master_seed: int, generation: int, index: int) -> np.ndarray:
    """The seed (4 words) of particle ``index`` of ``generation`` (-1: pyABC's sample
    from the prior that sets the first temperature)."""
    return np.random.SeedSequence(master_seed, spawn_key=(_PARTICLES, generation + 1, index)
                                  ).generate_state(4)


def _evaluate(payload: bytes, key: str, master_seed: int, generation: int,
              indices: Sequence[int]) -> list:
    """Run particles ``indices`` of a generation (in a worker or in this process): each
    with the global ``np.random`` state seeded for it, restored afterwards."""
    with _RANDOM_LOCK:
        simulate_one = _LOADED.get(key)
        if simulate_one is None:
            _LOADED.clear()
            simulate_one = _LOADED[key] = cloudpickle.loads(payload)
        # The legacy global state, on purpose: pyABC's proposals draw from it.
        saved = np.random.get_state()  # noqa: NPY002
        try:
            particles = []
            for index in indices:
                np.random.seed(particle_state(master_seed, generation, index))  # noqa: NPY002
                particles.append(simulate_one())
            return particles
        finally:
            np.random.set_state(saved)  # noqa: NPY002


class SeededSampler(Sampler):
    """A pyABC sampler whose populations do not depend on the executor or the number of
    workers (pyABC's own samplers accept particles in the order they finish, or reseed
    from the clock).

    A generation's particles are numbered; particle ``i`` runs with the global
    ``np.random`` state seeded by :func:`particle_state` right before pyABC's
    ``simulate_one`` (which draws the proposal, the model run's seed and, for exact
    ABC, the acceptance from it). Particles go to ``executor`` in batches whose size
    depends only on the counts so far (the population size, and the acceptance rate of
    this and the previous generation); results are taken in index order, and the
    population is the first ``n`` accepted, with the rejected ones before the ``n``-th
    counted (``nr_evaluations_``, as a sampler running one particle at a time would count
    them) and recorded when pyABC asks. ``runs`` counts every run made, the rest of the
    last batch included. A generation that would pass ``max_runs`` runs in all, or
    pyABC's ``max_eval`` particles (its minimum acceptance rate), stops unfinished
    (``stopped_by`` says which) and pyABC ends the run at the previous generation.
    """

    def __init__(self, executor, slots: int, master_seed: int, max_runs: int,
                 progress: Callable[[int], None] | None = None):
        super().__init__()
        self.executor, self.slots = executor, max(1, int(slots))
        self.master_seed, self.max_runs = int(master_seed), int(max_runs)
        self.progress = progress or (lambda n: None)
        self.runs = 0
        self.generation_runs: dict[int, int] = {}
        self.stopped_by: str | None = None
        self._previous_rate: float | None = None

    def _batch_size(self, n: int, accepted: int, evaluated: int, all_accepted: bool) -> int:
        """The next batch: the particles expected to give the ``n - accepted`` still
        needed (plus a tenth), at least a tenth of ``n`` and at most ten times ``n``."""
        remaining = n - accepted
        if all_accepted:
            return remaining
        if evaluated == 0:
            # Four fifths of what the previous generation's rate asks for: the rate
            # rises as well as falls between generations, and a second batch is cheap.
            size = 0.8 * remaining / (self._previous_rate or 1.0)
        elif accepted == 0:
            size = evaluated  # nothing accepted yet: double what was tried
        else:
            size = 1.1 * remaining * evaluated / accepted
        return int(min(max(math.ceil(size), math.ceil(n / 10), 1), 10 * n))

    def sample_until_n_accepted(self, n, simulate_one, t, *, max_eval=np.inf,
                                all_accepted=False, ana_vars=None):  # noqa: ARG002
        payload, key = cloudpickle.dumps(simulate_one), uuid.uuid4().hex
        sample = self._create_empty_sample()
        accepted = evaluated = counted = 0
        runs_before = self.runs
        limit = math.floor(max_eval) if np.isfinite(max_eval) else None
        while accepted < n:
            size = self._batch_size(n, accepted, evaluated, all_accepted)
            if limit is not None:
                size = min(size, limit - evaluated)
                if size <= 0:
                    self.stopped_by = "acceptance"
                    break
            room = self.max_runs - self.runs
            if room <= 0:
                self.stopped_by = "budget"
                break
            size = min(size, room)
            chunk = max(1, math.ceil(size / (4 * self.slots)))
            starts = range(evaluated, evaluated + size, chunk)
            jobs = [self.executor.submit(_evaluate, payload, key, self.master_seed, t,
                                         list(range(s, min(s + chunk, evaluated + size))))
                    for s in starts]
            for start, job in zip(starts, jobs, strict=True):
                particles = job.result()
                for offset, particle in enumerate(particles):
                    if accepted < n:
                        sample.append(particle)
                        if particle.accepted:
                            accepted += 1
                            counted = start + offset + 1
                self.runs += len(particles)
                self.progress(len(particles))
            evaluated += size
        self.generation_runs[t] = self.runs - runs_before
        if accepted < n:
            sample.ok = False
            self.nr_evaluations_ = evaluated
        else:
            self.nr_evaluations_ = counted
            self._previous_rate = n / counted
        return sample


# ---------------------------------------------------------------------------------------
# pyABC's side of a candidate model.


class _PyabcModel(pyabc.Model):
    """A candidate model as pyABC runs it: parameters in pyABC's scale (the log for a
    log-uniform prior) made natural, the model run's seed drawn from the particle's
    ``np.random`` state, and the summary at the observed elements."""

    def __init__(self, candidate: CandidateModel, names: list[str], logged: list[bool],
                 mask: np.ndarray, shape: tuple[int, ...]):
        super().__init__(str(candidate.name))
        self.candidate, self.names, self.logged = candidate, names, logged
        self.mask, self.shape = mask, shape

    def natural(self, internal: dict) -> dict[str, float]:
        return _natural(internal, self.names, self.logged)

    def sample(self, pars):
        # From the particle's global state (seeded by the sampler), as pyABC's draws are.
        seed = int(np.random.randint(0, np.iinfo(np.int64).max, dtype=np.int64))  # noqa: NPY002
        summary = np.asarray(self.candidate.simulate(self.natural(pars), seed), dtype=float)
        if summary.shape != self.shape:
            raise ValueError(f"model '{self.name}': simulate returned shape "
                             f"{summary.shape}; allowed: the shape of observed, {self.shape}")
        return {"y": summary.reshape(-1)[self.mask]}


def _internal_name(i: int) -> str:
    return f"theta{i:03d}"


def _natural(internal: dict, names: list[str], logged: list[bool]) -> dict[str, float]:
    return {name: float(np.exp(internal[_internal_name(i)]) if lg else internal[
        _internal_name(i)]) for i, (name, lg) in enumerate(zip(names, logged, strict=True))}


class _WeightedEuclidean(pyabc.distance.Distance):
    """``sqrt(sum_i w_i (x_i - y_i)^2)`` with fixed weights."""

    def __init__(self, weights: np.ndarray):
        super().__init__()
        self.weights = np.asarray(weights, dtype=float)

    def __call__(self, x, x_0, t=None, par=None):  # noqa: ARG002
        return float(np.sqrt(np.sum(self.weights * (x["y"] - x_0["y"]) ** 2)))


# ---------------------------------------------------------------------------------------
# The result.


@dataclass
class ModelPosterior:
    """One candidate model's posterior: its weighted particles (natural units, weights
    summing to 1), their summary per parameter, its posterior probability, and the
    summaries of posterior predictive runs (one per posterior draw)."""

    name: str
    priors: dict[str, tuple[float, float]]
    particles: np.ndarray
    weights: np.ndarray
    probability: float
    ess: float
    summary: dict[str, dict[str, float]]
    predictive: np.ndarray | None = None

    @property
    def parameters(self) -> list[str]:
        return list(self.priors)

    def as_dict(self) -> dict[str, Any]:
        return {"probability": self.probability, "particles": int(len(self.weights)),
                "effective_sample_size": self.ess,
                "predictive_runs": 0 if self.predictive is None else len(self.predictive),
                # A model that died out has no particles, so no summary: its priors only.
                "parameters": {name: {**self.summary.get(name, {}), "prior_low": low,
                                      "prior_high": high,
                                      "prior": "log-uniform" if low > 0 else "uniform"}
                               for name, (low, high) in self.priors.items()}}


@dataclass
class Posterior:
    """The posterior of an ABC calibration (:func:`abc_smc`, :func:`abc_model`).

    ``models`` holds each candidate's :class:`ModelPosterior` (in the order given; a model
    that died out has no particles and probability 0). ``generations`` has a row per
    generation: ``generation``, ``epsilon`` (the distance threshold; ``None`` for the
    first, which takes every particle, and for exact ABC), ``temperature`` (exact ABC),
    ``acceptance_rate`` (population over the particles tried to fill it),
    ``effective_sample_size`` of the weights, ``runs`` (model runs made),
    ``model_probabilities``, and ``mean_shift_sd``: per model and parameter, how far the
    posterior mean moved from the previous generation, in posterior sds. ``verdict`` says
    in words whether the run converged and why it stopped (``stopped_by``: ``budget``,
    ``acceptance``, ``generations`` or ``temperature``). ``runs`` counts every model
    run, and ``runs_by_purpose`` splits it: the generations, pyABC's sample of the prior
    that sets the first temperature (exact ABC), the replicates that weigh the series
    (:func:`abc_model`) and the posterior predictive. ``observed`` is the record's
    summary (rows named by ``series`` when it is a set of daily series)."""

    method: str
    models: dict[str, ModelPosterior]
    observed: np.ndarray
    generations: list[dict[str, Any]]
    converged: bool
    verdict: str
    stopped_by: str
    runs: int
    seed: int
    population_size: int
    runs_by_purpose: dict[str, int] = field(default_factory=dict)
    series: list[str] | None = None
    scenario: str | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def best(self) -> ModelPosterior:
        """The model of highest posterior probability (the first given, on a tie)."""
        return max(self.models.values(), key=lambda m: m.probability)

    @property
    def estimates(self) -> dict[str, float]:
        """Posterior means of the most probable model's parameters."""
        return {k: v["mean"] for k, v in self.best.summary.items()}

    @property
    def intervals(self) -> dict[str, tuple[float, float]]:
        """95% credible intervals (2.5% to 97.5% posterior quantiles) of the most probable
        model's parameters."""
        return {k: (v["ci95_low"], v["ci95_high"]) for k, v in self.best.summary.items()}

    def particles_frame(self) -> pd.DataFrame:
        """Every model's final particles: ``model``, ``weight`` (within the model) and a
        column per parameter (natural units)."""
        frames = [pd.DataFrame(m.particles, columns=m.parameters).assign(
            model=m.name, weight=m.weights) for m in self.models.values() if len(m.weights)]
        if not frames:
            return pd.DataFrame(columns=["model", "weight"])
        table = pd.concat(frames, ignore_index=True)
        return table[["model", "weight"] + [c for c in table if c not in ("model", "weight")]]

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready: the method, each model's probability and parameter summaries, the
        diagnostics per generation, the verdict."""
        method = {"distance": "ABC-SMC, weighted Euclidean distance, adaptive quantile "
                              "(median) threshold",
                  "exact": "ABC-SMC, exact ABC under a Gaussian noise model "
                           "(stochastic acceptor, temperature to 1)"}[self.method]
        return {"scenario": self.scenario, "method": method, "seed": self.seed,
                "population_size": self.population_size, "runs": self.runs,
                "runs_by_purpose": self.runs_by_purpose,
                "converged": self.converged, "stopped_by": self.stopped_by,
                "verdict": self.verdict, "best_model": self.best.name,
                "models": {name: m.as_dict() for name, m in self.models.items()},
                "generations": self.generations, "notes": self.notes}


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    """The ``q`` quantile of weighted values (each value at the middle of its weight).

    >>> weighted_quantile(np.array([1.0, 2.0, 3.0]), np.ones(3), 0.5)
    2.0
    """
    order = np.argsort(values, kind="stable")
    x, w = values[order], weights[order] / weights.sum()
    positions = np.cumsum(w) - w / 2
    return float(np.interp(q, positions, x))


def _summarise(particles: np.ndarray, weights: np.ndarray, names: list[str]
               ) -> dict[str, dict[str, float]]:
    out = {}
    for j, name in enumerate(names):
        x = particles[:, j]
        mean = float(np.sum(weights * x))
        out[name] = {"mean": mean, "sd": float(np.sqrt(np.sum(weights * (x - mean) ** 2))),
                     "median": weighted_quantile(x, weights, 0.5),
                     "ci95_low": weighted_quantile(x, weights, 0.025),
                     "ci95_high": weighted_quantile(x, weights, 0.975)}
    return out


def _ess(weights: np.ndarray) -> float:
    return float(weights.sum() ** 2 / np.sum(weights**2)) if len(weights) else 0.0


# ---------------------------------------------------------------------------------------
# Checks of the arguments, before any run.


def _whole(name: str, value: Any, low: int, high: int, what: str = "") -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or not (
            low <= value <= high):
        raise ValueError(f"{name} {value!r}; allowed: a whole number from {low:,} to "
                         f"{high:,}{what}")
    return int(value)


def _check_candidates(models: Sequence[CandidateModel]) -> list[tuple[str, list[str],
                                                                      list[bool]]]:
    if not isinstance(models, Sequence) or isinstance(models, str) or not (
            1 <= len(models) <= MAX_MODELS):
        raise ValueError(f"models: {type(models).__name__}; allowed: a list of 1 to "
                         f"{MAX_MODELS} model objects")
    described, names = [], set()
    for model in models:
        name = getattr(model, "name", None)
        priors = getattr(model, "priors", None)
        if not isinstance(name, str) or not name or name in names:
            raise ValueError(f"model name {name!r}; allowed: a name (text) unique among "
                             f"the models")
        names.add(name)
        if not callable(getattr(model, "simulate", None)):
            raise ValueError(f"model '{name}' has no simulate(parameters, seed)")
        if not isinstance(priors, dict) or not priors:
            raise ValueError(f"model '{name}': priors {priors!r}; allowed: a dict of "
                             f"parameter -> (low, high)")
        logged = []
        for parameter, bounds in priors.items():
            try:
                low, high = (float(b) for b in bounds)
            except (TypeError, ValueError):
                low = high = float("nan")
            if not (isinstance(parameter, str) and math.isfinite(low)
                    and math.isfinite(high) and low < high):
                raise ValueError(f"model '{name}': prior of {parameter!r} {bounds!r}; "
                                 f"allowed: (low, high) with finite low < high")
            logged.append(low > 0)
        described.append((name, list(priors), logged))
    return described


def _check_settings(method: str, population_size: int, max_generations: int,
                    min_acceptance_rate: float, max_runs: int, predictive_runs: int,
                    seed: int, workers: int) -> None:
    if method not in METHODS:
        raise ValueError(f"method {method!r}; allowed: {', '.join(METHODS)}")
    n = _whole("population_size", population_size, 2, MAX_POPULATION_SIZE)
    _whole("max_generations", max_generations, 1, MAX_GENERATIONS)
    if isinstance(min_acceptance_rate, bool) or not isinstance(
            min_acceptance_rate, (int, float, np.floating)) or not (
            0 <= min_acceptance_rate < 1):
        raise ValueError(f"min_acceptance_rate {min_acceptance_rate!r}; allowed: a number "
                         f"from 0 to below 1")
    # pyABC's first generation under exact ABC follows a sample of the prior (which sets
    # the first temperature): both must fit in the budget.
    least = 2 * n if method == "exact" else n
    _whole("max_runs", max_runs, least, MAX_RUNS,
           " (at least 2 x population_size: pyABC's sample of the prior and a first "
           "generation)" if method == "exact" else " (at least population_size: the "
           "first generation)")
    _whole("predictive_runs", predictive_runs, 0, MAX_PREDICTIVE_RUNS)
    _whole("seed", seed, 0, 2**63 - 1)
    _whole("workers", workers, 1, 4096)


def _check_observed(observed: Any, weights: Any, method: str, population_size: int
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    try:
        values = np.asarray(observed, dtype=float)
    except (TypeError, ValueError):
        raise ValueError("observed: not numbers; allowed: an array of numbers (NaN where "
                         "not observed)") from None
    if values.size > MAX_SUMMARY_ELEMENTS:
        raise ValueError(f"observed has {values.size:,} elements; allowed: at most "
                         f"{MAX_SUMMARY_ELEMENTS:,}")
    mask = np.isfinite(values.reshape(-1))
    if not mask.any() or np.isinf(values).any():
        raise ValueError("observed has no finite value (or an infinite one); allowed: "
                         "numbers, NaN where not observed")
    if population_size * int(mask.sum()) > MAX_POPULATION_ELEMENTS:
        raise ValueError(f"population_size {population_size:,} x {int(mask.sum()):,} "
                         f"observed elements; allowed: a product of at most "
                         f"{MAX_POPULATION_ELEMENTS:,} (the particles' runs are held)")
    if method == "exact":
        if weights is not None:
            raise ValueError("weights with method 'exact'; allowed: none (the model "
                             "whitens its summary: the kernel has unit variance)")
        return values, mask, np.ones(int(mask.sum()))
    if weights is None:
        return values, mask, np.ones(int(mask.sum()))
    w = np.asarray(weights, dtype=float)
    if w.shape != values.shape or not np.all(np.isfinite(w[np.isfinite(values)])) or (
            w[np.isfinite(values)] < 0).any() or not (w[np.isfinite(values)] > 0).any():
        raise ValueError(f"weights of shape {w.shape}; allowed: the shape of observed, "
                         f"{values.shape}, finite and >= 0 with one > 0")
    return values, mask, w.reshape(-1)[mask]


# ---------------------------------------------------------------------------------------
# The engine.


def abc_smc(models: Sequence[CandidateModel], observed: Any, *, method: str = "distance",
            weights: Any = None, population_size: int = 200, max_generations: int = 10,
            min_acceptance_rate: float = 0.02, max_runs: int = 50_000,
            predictive_runs: int = 100, seed: int = 0, workers: int = 1,
            scheduler: str | None = None, progress: Callable[[int], None] | None = None
            ) -> Posterior:
    """The posterior of one or more candidate models given ``observed``, by ABC-SMC.

    Parameters
    ----------
    models : candidate model objects (see the module docstring); with several, the
        result has their posterior probabilities (uniform prior over the models).
    observed : the observed summary, NaN where not observed.
    method : ``"distance"`` (stochastic models: weighted Euclidean distance, median
        threshold) or ``"exact"`` (deterministic models with whitened Gaussian noise).
    weights : for ``"distance"``, a weight per element of ``observed`` (default 1):
        one over each element's variance between replicate runs makes the distance
        the model's own noise kernel.
    population_size : particles per generation (2 to 10,000).
    max_generations : at most this many generations; exact ABC reaches temperature 1
        at the last one.
    min_acceptance_rate : stop when a generation would accept fewer of the particles it
        tries (its threshold can no longer shrink at a reasonable cost).
    max_runs : at most this many model runs for the populations (the posterior
        predictive runs come on top).
    predictive_runs : runs of each model at posterior draws, seeded, for the posterior
        predictive band (0: none).
    seed : master seed: the same seed gives the same posterior on any executor.
    workers, scheduler : where runs go, as for a sweep (:func:`sim.executors.executor_for`).
    progress : called with the number of runs finished, as they finish.
    """
    described = _check_candidates(models)
    _check_settings(method, population_size, max_generations, min_acceptance_rate,
                    max_runs, predictive_runs, seed, workers)
    values, mask, kept_weights = _check_observed(observed, weights, method, population_size)
    with executor_for(workers, scheduler) as (executor, slots):
        return _run(list(models), described, values, mask, kept_weights, method,
                    population_size, max_generations, float(min_acceptance_rate), max_runs,
                    predictive_runs, seed, executor, slots, progress)


def _lowest_temperature(temperatures: list) -> float:
    """The lowest of the schemes' proposed temperatures, as a float: pyABC's
    effective-sample-size scheme proposes an array of one, which its log line cannot
    format (a TypeError once it is the lowest)."""
    return min(float(np.min(proposed)) for proposed in temperatures)


def _run(models, described, observed, mask, weights, method, population_size,
         max_generations, min_acceptance_rate, max_runs, predictive_runs, seed, executor,
         slots, progress, runs_before: int = 0) -> Posterior:
    """ABC-SMC on an open executor; the posterior with its diagnostics."""
    shape = observed.shape
    wrapped, priors = [], []
    for model, (_, names, logged) in zip(models, described, strict=True):
        wrapped.append(_PyabcModel(model, names, logged, mask, shape))
        rvs = {}
        for i, parameter in enumerate(names):
            low, high = (float(b) for b in model.priors[parameter])
            if logged[i]:
                low, high = math.log(low), math.log(high)
            rvs[_internal_name(i)] = pyabc.RV("uniform", low, high - low)
        priors.append(pyabc.Distribution(**rvs))
    if method == "exact":
        # pyABC's acceptance-rate scheme (one of the default two) evaluates the proposal
        # density of every particle tried, which fails once a candidate model has died
        # out (its transition is never fitted): with several models the temperature
        # falls by the fixed-iteration exponential scheme and the effective-sample-size
        # scheme alone.
        temperature = pyabc.Temperature() if len(models) == 1 else pyabc.Temperature(
            schemes=[pyabc.ExpDecayFixedIterScheme(), pyabc.EssScheme()],
            aggregate_fun=_lowest_temperature)
        options = {"distance_function": pyabc.IndependentNormalKernel(var=1.0),
                   "acceptor": pyabc.StochasticAcceptor(), "eps": temperature}
    else:
        options = {"distance_function": _WeightedEuclidean(weights),
                   "eps": pyabc.QuantileEpsilon(initial_epsilon=np.inf, alpha=0.5)}
    sampler = SeededSampler(executor, slots, seed, max_runs, progress)
    abc = pyabc.ABCSMC(wrapped, priors, population_size=population_size, sampler=sampler,
                       transitions=[pyabc.MultivariateNormalTransition() for _ in wrapped],
                       **options)
    logger = logging.getLogger("ABC")
    level = logger.level
    saved_state = np.random.get_state()  # noqa: NPY002 (pyABC's main-process steps use it)
    with tempfile.TemporaryDirectory(prefix="attrition-abc-") as folder:
        try:
            # pyABC's chatter (a line per generation) stays out of the caller's stderr;
            # its warnings still show.
            logger.setLevel(logging.WARNING)
            np.random.seed(  # noqa: NPY002
                np.random.SeedSequence(seed, spawn_key=(_MAIN,)).generate_state(4))
            history = abc.new("sqlite:///" + os.path.join(folder, "abc.db"),
                              {"y": observed.reshape(-1)[mask]})
            # The particles' runs are not read back from the database: not storing them
            # keeps it small however long the series.
            history.stores_sum_stats = False
            with warnings.catch_warnings():
                # pyABC subtracts the first generation's infinite threshold from itself
                # when it checks whether thresholds still fall (they do by construction).
                warnings.filterwarnings("ignore", "invalid value encountered",
                                        RuntimeWarning, "pyabc.inference_util")
                abc.run(max_nr_populations=max_generations,
                        min_acceptance_rate=min_acceptance_rate)
            generations, finals = _read_history(history, described, method, sampler)
        finally:
            np.random.set_state(saved_state)  # noqa: NPY002
            logger.setLevel(level)
            _LOADED.clear()  # the last generation's pyABC state, when run in this process
    if not generations:
        raise ValueError(f"no generation finished within max_runs {max_runs:,}; allowed: a "
                         f"larger max_runs")
    stopped_by = sampler.stopped_by or _stopped_by(generations, method, max_generations,
                                                   min_acceptance_rate)
    converged, verdict = _verdict(generations, method, stopped_by, min_acceptance_rate,
                                  max_runs)
    results = {}
    for model, (name, names, _) in zip(models, described, strict=True):
        particles, weights_m, probability = finals[name]
        results[name] = ModelPosterior(
            name=name, priors={p: tuple(float(b) for b in model.priors[p]) for p in names},
            particles=particles, weights=weights_m, probability=probability,
            ess=_ess(weights_m),
            summary=_summarise(particles, weights_m, names) if len(weights_m) else {})
    _predictive(models, results, predictive_runs, seed, executor, progress)
    notes = []
    last = generations[-1]
    if last["effective_sample_size"] < max(20.0, 0.1 * population_size):
        notes.append(f"the last generation's effective sample size is "
                     f"{last['effective_sample_size']:.0f} of {population_size} particles: "
                     f"its quantiles are rough; allowed: a larger population_size")
    for result in results.values():
        for name, row in result.summary.items():
            low, high = result.priors[name]
            if min(row["ci95_low"] - low, high - row["ci95_high"]) <= 0.01 * (high - low):
                notes.append(f"{result.name}: {name}'s 95% credible interval reaches the "
                             f"end of its prior ({low:g} to {high:g}): the record does not "
                             f"bound it there")
    purposes = {"generations": sum(g["runs"] for g in generations),
                "unfinished generation": sampler.runs - sampler.generation_runs.get(-1, 0)
                - sum(g["runs"] for g in generations),
                "prior sample for the first temperature": sampler.generation_runs.get(-1, 0),
                "replicates weighing the series": runs_before,
                "posterior predictive": sum(0 if m.predictive is None else len(m.predictive)
                                            for m in results.values())}
    purposes = {k: v for k, v in purposes.items() if v or k == "generations"}
    return Posterior(method=method, models=results, observed=observed,
                     generations=generations, converged=converged, verdict=verdict,
                     stopped_by=stopped_by, runs=sum(purposes.values()), seed=seed,
                     population_size=population_size, runs_by_purpose=purposes, notes=notes)


def _read_history(history, described, method, sampler):
    """Diagnostics per generation, and each model's final particles (natural units),
    weights and probability, from pyABC's database."""
    table = history.get_all_populations()
    table = table[table["t"] >= 0].sort_values("t")
    generations, previous = [], None
    finals = {}
    for _, row in table.iterrows():
        t = int(row["t"])
        probabilities = history.get_model_probabilities(t)["p"]
        weights_all = history.get_weighted_distances(t)["w"].to_numpy(dtype=float)
        stats, shift = {}, {}
        for m, (name, names, logged) in enumerate(described):
            p = float(probabilities.get(m, 0.0))
            if p <= 0:
                finals[name] = (np.empty((0, len(names))), np.empty(0), 0.0)
                continue
            frame, w = history.get_distribution(m, t)
            internal = frame[[_internal_name(i) for i in range(len(names))]].to_numpy(float)
            particles = np.where(logged, np.exp(internal), internal)
            w = np.asarray(w, dtype=float)
            w = w / w.sum()
            finals[name] = (particles, w, p)
            stats[name] = _summarise(particles, w, names)
            if previous is not None and name in previous:
                shift[name] = {k: abs(v["mean"] - previous[name][k]["mean"]) / v["sd"]
                               if v["sd"] > 0 else 0.0 for k, v in stats[name].items()}
        epsilon = float(row["epsilon"])
        generations.append({
            "generation": t,
            "epsilon": None if method == "exact" or not np.isfinite(epsilon) else epsilon,
            "temperature": epsilon if method == "exact" else None,
            "acceptance_rate": int(row["particles"]) / int(row["samples"]),
            "effective_sample_size": _ess(weights_all),
            "runs": int(sampler.generation_runs.get(t, 0)),
            "model_probabilities": {name: float(probabilities.get(m, 0.0))
                                    for m, (name, _, _) in enumerate(described)},
            "mean_shift_sd": shift if previous is not None else None})
        previous = stats
    return generations, finals


def _stopped_by(generations, method, max_generations, min_acceptance_rate) -> str:
    last = generations[-1]
    if method == "exact" and last["temperature"] <= 1.0:
        return "temperature"
    if last["acceptance_rate"] < min_acceptance_rate:
        return "acceptance"
    return "generations"


def _verdict(generations, method, stopped_by, min_acceptance_rate, max_runs
             ) -> tuple[bool, str]:
    """Converged or not, in plain words, with why the run stopped."""
    last = generations[-1]
    reason = {"budget": f"stopped by the run budget (max_runs {max_runs:,})",
              "acceptance": f"stopped when the acceptance rate fell below "
                            f"{min_acceptance_rate:g}",
              "generations": f"stopped after the last of {len(generations)} generations",
              "temperature": "stopped at temperature 1"}[stopped_by]
    if method == "exact":
        if last["temperature"] <= 1.0:
            return True, (f"converged: the last generation is at temperature 1, the exact "
                          f"posterior under the Gaussian noise model "
                          f"(effective sample size {last['effective_sample_size']:.0f})")
        return False, (f"not converged: {reason} at temperature {last['temperature']:.3g} "
                       f"> 1; the particles are a tempered, wider posterior")
    if len(generations) < 2:
        return False, f"not converged: {reason} after one generation, nothing to compare"
    before = generations[-2]
    shifts = [v for model in last["mean_shift_sd"].values() for v in model.values()]
    shift = max(shifts) if shifts else 0.0
    ess = min(before["effective_sample_size"], last["effective_sample_size"])
    tolerance = max(0.1, 2 * math.sqrt(2 / max(ess, 1.0)))
    moved = max(abs(p - before["model_probabilities"][name])
                for name, p in last["model_probabilities"].items())
    agree = f"the posterior means of the last two generations differ by at most " \
            f"{shift:.2f} sd"
    if shift <= tolerance and moved <= PROBABILITY_TOLERANCE:
        return True, (f"converged: {agree}, within twice their Monte-Carlo error "
                      f"({tolerance:.2f} sd); {reason}")
    if shift > tolerance:
        return False, (f"not converged: {agree}, more than twice their Monte-Carlo error "
                       f"({tolerance:.2f} sd); {reason}")
    return False, (f"not converged: a model's probability moved by {moved:.2f} between "
                   f"the last two generations; {reason}")


def _call(payload: bytes, parameters: dict[str, float], seed: int) -> np.ndarray:
    """``simulate`` of a cloudpickled model (a model class defined in a script or a test
    pickles by value)."""
    return np.asarray(cloudpickle.loads(payload).simulate(parameters, seed), dtype=float)


def _predictive(models, results, runs, seed, executor, progress) -> None:
    """``runs`` seeded runs of each model with particles, at parameters drawn from its
    posterior by weight."""
    if runs == 0:
        return
    for m, model in enumerate(models):
        result = results[model.name]
        if not len(result.weights):
            continue
        draws = np.random.default_rng(np.random.SeedSequence(
            seed, spawn_key=(_PREDICTIVE, m))).choice(len(result.weights), size=runs,
                                                     p=result.weights)
        seeds = [int(np.random.SeedSequence(seed, spawn_key=(_PREDICTIVE, m, i))
                     .generate_state(1, np.uint64)[0] >> np.uint64(1)) for i in range(runs)]
        payload = cloudpickle.dumps(model)
        jobs = [executor.submit(_call, payload, dict(zip(result.parameters,
                                                         map(float, result.particles[d]),
                                                         strict=True)), s)
                for d, s in zip(draws, seeds, strict=True)]
        out = []
        for job in jobs:
            out.append(job.result())
            (progress or (lambda n: None))(1)
        result.predictive = np.array(out)


# ---------------------------------------------------------------------------------------
# Scenario keys of the agent-based model.


class ScenarioModel:
    """Scenario keys of the agent-based model as a candidate model: the priors are the
    keys' ranges (log-uniform when both ends are positive), the summary is the record's
    observed series ((series, days + 1)) of one run."""

    def __init__(self, name: str, evaluator: SeriesEvaluator):
        self.name, self.evaluator = name, evaluator
        self.priors = {k.key: (k.low, k.high) for k in evaluator.keys}

    def simulate(self, parameters: dict[str, float], seed: int) -> np.ndarray:
        return self.evaluator([parameters[k.key] for k in self.evaluator.keys], seed)


def _series_spread(model: ScenarioModel, mask: np.ndarray, replicates: int, seed: int,
                   executor, progress) -> tuple[np.ndarray, int]:
    """Each series' variance between replicate runs (mean over its observed days and
    over the prior's centre and corners), and the runs it took."""
    keys = model.evaluator.keys
    points = [[k.from_unit(u) for k in keys] for u in (0.5, 0.0, 1.0)]
    jobs = [[executor.submit(model.evaluator, point, int(
        np.random.SeedSequence(seed, spawn_key=(_SPREAD, p, r)).generate_state(
            1, np.uint64)[0] >> np.uint64(1))) for r in range(replicates)]
            for p, point in enumerate(points)]
    spreads = []
    for point_jobs in jobs:
        runs = np.array([job.result() for job in point_jobs])
        (progress or (lambda n: None))(len(point_jobs))
        variance = runs.var(axis=0, ddof=1)
        spreads.append([variance[s][mask[s]].mean() for s in range(len(variance))])
    return np.mean(spreads, axis=0), len(points) * replicates


def abc_model(record: Record, scenario: str | Path | dict[str, Any],
              fit: Sequence[str | FitKey], population_size: int = 200,
              max_generations: int = 8, min_acceptance_rate: float = 0.05,
              max_runs: int = 20_000, predictive_runs: int = 100,
              spread_replicates: int = SPREAD_REPLICATES, seed: int = 0, workers: int = 1,
              scheduler: str | None = None,
              progress: Callable[[int], None] | None = None) -> Posterior:
    """The posterior of scenario keys given ``record``, by ABC-SMC on single runs of the
    model (the arguments of :func:`sim.calibration.calibrate_model`).

    The summary is the record's observed strength and casualty series (model columns as
    in :mod:`sim.calibration`), compared on the days the record has them; each series
    weighs one over its variance between replicate runs (``spread_replicates`` runs at
    each of the prior's centre and corners, on top of ``max_runs``). A key's prior is
    uniform over its ``--fit`` range, log-uniform when both ends are positive.

    Raises :class:`ScenarioError` (one line) for a bad key, range or scenario, and
    ``ValueError`` for a record with nothing to match or a bad setting, all before any
    run.

        >>> from sim.scenarios import read
        >>> from sim.calibration import record_of
        >>> _, data = read("lanchester_square")
        >>> data["combat"]["substeps_per_day"] = 4
        >>> key = FitKey("defender.aimed_kills_per_shooter_per_day", 0.02, 0.1)
        >>> truth = SeriesEvaluator(data, [key], ["attacker_strength"], days=8)
        >>> record = record_of(truth([0.05], seed=99), ["attacker_strength"])
        >>> found = abc_model(record, data, [key], population_size=30, max_generations=3,
        ...                   predictive_runs=0, spread_replicates=3, seed=3)
        >>> low, high = found.intervals[key.key]
        >>> bool(low < 0.05 < high)
        True
    """
    name, evaluator = fitted_series(record, scenario, fit)
    series = evaluator.series
    observed = np.array([record.observed[s] for s in series], dtype=float)
    _check_settings("distance", population_size, max_generations, min_acceptance_rate,
                    max_runs, predictive_runs, seed, workers)
    _, mask, _ = _check_observed(observed, None, "distance", population_size)
    _whole("spread_replicates", spread_replicates, 2, 1000)
    model = ScenarioModel(name, evaluator)
    described = _check_candidates([model])
    with executor_for(workers, scheduler) as (executor, slots):
        spread, spread_runs = _series_spread(model, np.isfinite(observed), spread_replicates,
                                             seed, executor, progress)
        # As sim.calibration weighs its objective: at least 1 person^2 (counts).
        weights = np.repeat(1.0 / np.maximum(spread, 1.0), observed.shape[1]).reshape(
            observed.shape).reshape(-1)[mask]
        posterior = _run([model], described, observed, mask, weights, "distance",
                         population_size, max_generations, float(min_acceptance_rate),
                         max_runs, predictive_runs, seed, executor, slots, progress,
                         runs_before=spread_runs)
    posterior.series, posterior.scenario = series, name
    posterior.notes.insert(0, f"each series weighs one over its variance between "
                              f"replicate runs ({spread_runs} runs: {spread_replicates} at "
                              f"each of the prior's centre and corners): " + ", ".join(
                                  f"{s} {v:.3g} persons^2" for s, v in zip(
                                      series, spread, strict=True)))
    return posterior


# ---------------------------------------------------------------------------------------
# Lanchester laws.


def abc_laws(record: Record, laws: Sequence[str] = ("square", "linear", "logarithmic"),
             fits: Sequence[LawFit] | None = None, population_size: int = 200,
             max_generations: int = 10, max_runs: int = 200_000,
             predictive_runs: int = 100, seed: int = 0, workers: int = 1,
             scheduler: str | None = None,
             progress: Callable[[int], None] | None = None) -> Posterior:
    """The posterior of each law's parameters given ``record`` and the laws' posterior
    probabilities (a uniform prior over ``laws``), by exact ABC (:class:`LawModel`).

    The noise model is the one the least-squares fits give the law of lowest BIC
    (``fits``, fitted here if not given): each series' AR(1) correlation and innovation
    spread, shared by every law so that their probabilities compare on one likelihood.
    Each law's priors span :data:`sim.lawfit.PRIOR_WIDTHS` of its least-squares 95%
    intervals either side of its estimates (the whole range where the record cannot
    identify a parameter): the posterior probabilities depend on those widths, as Bayes
    factors depend on priors; a law with more parameters spreads its prior wider, which
    is the Occam penalty.
    The posterior predictive draws ``predictive_runs`` parameter sets of the most
    probable law by weight and adds AR(1) errors of that noise model: what the record
    could have been.

        >>> from sim.lawfit import trajectory
        >>> path = trajectory("square", 0.02, 0.03, 1000, 800, days=30)
        >>> record = Record.from_trajectory(path, noise_sd=5.0, rng=np.random.default_rng(1))
        >>> found = abc_laws(record, ("square", "linear"), population_size=100,
        ...                  max_generations=6, predictive_runs=0, seed=2)
        >>> found.best.name, found.models["square"].probability > 0.9
        ('square', True)
    """
    if isinstance(laws, str) or not laws:
        raise ValueError(f"laws {laws!r}; allowed: one or more of {', '.join(FIT_LAWS)}")
    for law in laws:
        if law not in FIT_LAWS:
            raise ValueError(f"unknown law '{law}'; allowed: {', '.join(FIT_LAWS)}")
    _check_settings("exact", population_size, max_generations, 0.0, max_runs,
                    predictive_runs, seed, workers)
    fits = list(fits) if fits is not None else compare_laws(record, tuple(laws))
    fitted = {f.law: f for f in fits}
    missing = [law for law in laws if law not in fitted]
    if missing:
        raise ValueError(f"no least-squares fit of the {missing[0]} law was given; allowed: "
                         f"fits of every law asked for")
    noise = min(fits, key=lambda f: f.bic)
    models = [LawModel(record, law, noise, around=fitted[law]) for law in laws]
    posterior = abc_smc(models, models[0].observed, method="exact",
                        population_size=population_size, max_generations=max_generations,
                        min_acceptance_rate=0.0, max_runs=max_runs, predictive_runs=0,
                        seed=seed, workers=workers, scheduler=scheduler, progress=progress)
    series = models[0].series_names
    posterior.series = list(series)
    posterior.observed = np.array([record.observed[name] for name in series], dtype=float)
    posterior.notes.insert(0, f"noise model of the {noise.law} law's fit (lowest BIC), shared "
                              f"by every law: " + ", ".join(
                                  f"{name} AR(1) correlation {models[0].noise[name][0]:.2f}, "
                                  f"innovations {models[0].noise[name][1]:.3g} persons"
                                  for name in series))
    if predictive_runs:
        best = posterior.best
        model = next(m for m in models if m.name == best.name)
        rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(_PREDICTIVE,)))
        draws = rng.choice(len(best.weights), size=predictive_runs, p=best.weights)
        best.predictive = np.array([
            [model.noisy_series(dict(zip(best.parameters, map(float, best.particles[d]),
                                         strict=True)), rng)[name] for name in series]
            for d in draws])
        posterior.runs_by_purpose["posterior predictive"] = predictive_runs
        posterior.runs += predictive_runs
    return posterior


__all__ = ["CandidateModel", "METHODS", "ModelPosterior", "Posterior", "ScenarioModel",
           "SeededSampler", "abc_laws", "abc_model", "abc_smc", "particle_state",
           "weighted_quantile"]
