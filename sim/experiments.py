"""Experiment files: the question, a base scenario, the parameters to vary, a design,
replicates, the metrics to keep and a master seed (``experiments/*.toml``).

Parameters are scenario key paths (as ``--set``; ``[*]`` sets every item of a list),
each varied in one of three ways:

* ``values = [a, b, c]``: these values (numbers, strings or booleans);
* ``range = {start = 0, stop = 10, step = 2}``: ``start`` included, ``stop`` excluded,
  as Python's and Hydra's ``range`` (0, 2, 4, 6, 8);
* ``interval = {low = 0.2, high = 0.9}``: any number from ``low`` to ``high``, for the
  sampling designs only (random and LHS draw from ``[low, high)``; Sobol and Morris use
  SALib's bounds ``[low, high]``). ``integer = true`` rounds a drawn value.

Designs: ``grid`` (every combination of the values), ``random`` and ``lhs`` (``samples``
points), ``sobol`` (SALib's Saltelli scheme, ``samples * (k + 2)`` points for ``k``
parameters, first and total order indices; with ``second_order = true``,
``samples * (2k + 2)`` points and the indices of every pair too) and ``morris``
(``samples`` trajectories, ``samples * (k + 1)`` points). A parameter given by values
enters a sampling design as a uniform choice among them. Sobol designs need at least
:data:`MIN_SOBOL_SAMPLES` base samples and Morris designs :data:`MIN_MORRIS_TRAJECTORIES`
trajectories, so that the indices and their intervals mean something.

Sizes are bounded and checked before any point is made: at most :data:`MAX_POINTS`
design points and :data:`MAX_RUNS` runs (points x replicates), :data:`MAX_VALUES` values
or range steps per parameter; every value a parameter takes is checked on the base
scenario when the file is loaded (:func:`check_values`). Values are strict, as in
scenarios: no number from a boolean or a string, no ``inf`` or ``nan``.

    >>> exp = Experiment.model_validate({"question": "Does it matter?",
    ...     "scenario": "fortified_defense", "metrics": ["loss_exchange_ratio"],
    ...     "parameters": {"defender.drones": {"values": [0, 25]},
    ...                    "sector.fortification_level": {"range": {"start": 0.2,
    ...                        "stop": 1.0, "step": 0.4}}}})
    >>> [p for p in design_points(exp)]
    [{'defender.drones': 0, 'sector.fortification_level': 0.2}, \
{'defender.drones': 0, 'sector.fortification_level': 0.6}, \
{'defender.drones': 25, 'sector.fortification_level': 0.2}, \
{'defender.drones': 25, 'sector.fortification_level': 0.6}]
"""

from __future__ import annotations

import copy
import hashlib
import itertools
import json
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    model_validator,
)
from scipy.stats import qmc

from sim.config import Scenario
from sim.fields import MAX_DAYS
from sim.keypaths import assign, flatten, split_key_path
from sim.model import RECORD_COLUMNS
from sim.scenarios import (
    ScenarioError,
    available,
    explain,
    find,
    parse_assignment,
    read,
    read_toml,
    shorten,
    validate,
)

DESIGNS = ("grid", "random", "lhs", "sobol", "morris")
Scalar = float | int | str | bool
#: Design points at most: a million (a grid of six parameters of ten values; at the
#: default scenario's 11 runs/s per core, a day and a half on 2 cores even without
#: replicates). Larger designs are split into several experiments.
MAX_POINTS = 1_000_000
#: Runs (points x replicates) at most, for the same reason.
MAX_RUNS = 1_000_000
#: Values of one parameter (a list or the steps of a range), and replicates, at most.
MAX_VALUES = 10_000
#: Parameters varied at once.
MAX_PARAMETERS = 100
#: Base samples of a Sobol design at least. Below it SALib's estimates of S1 and ST
#: stray outside [0, 1] and its bootstrap intervals are too wide to rank anything:
#: over 200 analyses each (scrambled Saltelli samples, SALib 1.6's defaults), an index
#: outside [-0.2, 1.2] came in 14% of Ishigami's (3 parameters) at 32 base samples, 3%
#: at 64 and none at 128; of Sobol's G function (7 parameters) in 7% at 32 and none from
#: 64; of a heavy-tailed output (exp of a sum of 7) in 17%, 7.5% and 0.5% at 32, 64, 128.
#: At 128 the widest 95% interval is about +-0.2 (+-0.4 heavy-tailed), and it narrows as
#: 1/sqrt(samples) (Saltelli et al. 2010, Comput. Phys. Commun. 181:259, whose
#: estimators SALib uses). A power of 2: the Sobol' sequence's balance needs it.
MIN_SOBOL_SAMPLES = 128
#: Morris trajectories at least: with one, each parameter has a single elementary
#: effect, so its spread (sigma) is undefined and the bootstrap interval of mu* is zero
#: wide (false certainty). Screening in practice uses 10 or more.
MIN_MORRIS_TRAJECTORIES = 2


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class RangeSpec(_Strict):
    """``start`` included, ``stop`` excluded, in steps of ``step`` (as Python's range)."""

    start: float
    stop: float
    step: float = 1.0

    @model_validator(mode="after")
    def _steps(self) -> RangeSpec:
        if self.step == 0 or (self.stop - self.start) / self.step <= 0:
            raise ValueError(f"step: {self.step} never gets from {self.start} to {self.stop}; "
                             f"allowed: a step of the sign of stop - start")
        # Counted before any value is made: range(0, 1e20) is refused, not listed.
        if self.count() > MAX_VALUES:
            raise ValueError(f"step: {self.step:g} from {self.start:g} to {self.stop:g} makes "
                             f"{self.count():,.0f} values; allowed: at most {MAX_VALUES:,} "
                             f"values (a larger step)")
        return self

    def count(self) -> float:
        """How many values the range has (a float: it may be astronomically many)."""
        return max(0.0, math.ceil((self.stop - self.start) / self.step - 1e-9))

    def values(self) -> list[float | int]:
        count = int(self.count())
        out = [self.start + k * self.step for k in range(count)]
        # Round away binary noise (0.1 * 3) so that values print and compare as written.
        out = [round(v, 12) for v in out]
        whole = all(float(x).is_integer() for x in (self.start, self.step))
        return [int(v) for v in out] if whole else out


class IntervalSpec(_Strict):
    """Any number from ``low`` to ``high`` (sampling designs)."""

    low: float
    high: float

    @model_validator(mode="after")
    def _ordered(self) -> IntervalSpec:
        if not self.low < self.high:
            raise ValueError(f"high: {self.high} is not above low ({self.low}); allowed: "
                             f"low < high")
        return self


class Parameter(_Strict):
    """How one scenario key varies: exactly one of ``values``, ``range``, ``interval``."""

    values: list[Scalar] | None = Field(default=None, min_length=1, max_length=MAX_VALUES)
    range: RangeSpec | None = None
    interval: IntervalSpec | None = None
    integer: bool = Field(default=False, description="Round drawn values to whole numbers.")

    @model_validator(mode="after")
    def _one_form(self) -> Parameter:
        given = [n for n in ("values", "range", "interval") if getattr(self, n) is not None]
        if len(given) != 1:
            raise ValueError(f"values: give exactly one of values, range, interval (got "
                             f"{', '.join(given) or 'none'})")
        if self.values is not None:
            # By type and value (True and 1 differ); a value twice makes a point twice.
            seen: set[tuple[str, Scalar]] = set()
            for value in self.values:
                if (type(value).__name__, value) in seen:
                    raise ValueError(f"values: {value!r} is given twice; allowed: each "
                                     f"value once")
                seen.add((type(value).__name__, value))
        return self

    def size(self) -> float:
        """How many values the parameter has (an interval: none, ``nan``), without
        listing them."""
        if self.values is not None:
            return float(len(self.values))
        return self.range.count() if self.range is not None else math.nan

    def discrete(self) -> list[Scalar] | None:
        """The parameter's values, or none for an interval."""
        if self.values is not None:
            return list(self.values)
        if self.range is not None:
            return self.range.values()
        return None

    def from_unit(self, u: float) -> Scalar:
        """The value at ``u`` in [0, 1]: a point of the interval, or a choice."""
        choices = self.discrete()
        if choices is not None:
            return choices[min(len(choices) - 1, int(u * len(choices)))]
        value = self.interval.low + u * (self.interval.high - self.interval.low)
        return int(round(value)) if self.integer else float(value)


class SeriesSpec(_Strict):
    """Daily series to keep, every ``every`` days, per side (``contingent == 'all'``)."""

    columns: list[str] = Field(min_length=1)
    every: Annotated[int, Field(ge=1, le=MAX_DAYS)] = 1

    @model_validator(mode="after")
    def _known(self) -> SeriesSpec:
        unknown = [c for c in self.columns if c not in RECORD_COLUMNS[3:]]
        if unknown:
            raise ValueError(f"columns: unknown {', '.join(unknown)}; allowed: "
                             f"{', '.join(RECORD_COLUMNS[3:])}")
        return self


class ReportSpec(_Strict):
    """Extras for ``attrition report``."""

    log: list[str] = Field(
        default_factory=list, description="Metrics also reported as their natural "
        "logarithm, ``log(metric)``: ratios with a heavy tail, whose sensitivity indices "
        "are dominated by a few extreme runs on the raw scale.")

    break_even: str | None = Field(
        default=None, description="A metric drawn on two-parameter heatmaps as a line: for "
        "each value of the second parameter, its mean at the largest value of the first, "
        "placed on the first parameter's axis (e.g. the recruitment that replaces the "
        "losses of a force kept at strength, on a recruitment-ceiling axis).")

    theory: Literal["lanchester"] | None = Field(
        default=None, description="A theory drawn over a grid's cell means, its prediction "
        "beside each cell in the tables (sim.sweep_theory): 'lanchester' is Lanchester's "
        "square law, for docking scenarios (survivors, casualties, exchange ratio, days).")


class Experiment(_Strict):
    """A sweep: what it asks, over what, how many times."""

    question: str = Field(min_length=10, description="The question the sweep answers.")
    scenario: str = Field(description="Base scenario: a name or a path (relative to the "
                                      "experiment file).")
    set: dict[str, Any] = Field(default_factory=dict,
                                description="Fixed overrides of the base scenario.")
    parameters: dict[str, Parameter] = Field(min_length=1, max_length=MAX_PARAMETERS)
    design: Literal["grid", "random", "lhs", "sobol", "morris"] = "grid"
    samples: Annotated[int, Field(ge=1, le=MAX_POINTS)] | None = Field(
        default=None, description="Points (random, lhs), base samples (sobol; a power of "
                                  "2) or trajectories (morris).")
    morris_levels: Annotated[int, Field(ge=2, le=1000)] = 4
    second_order: bool = Field(
        default=False, description="Sobol only: also the second-order indices S2 of every "
        "pair of parameters, at samples * (2k + 2) points instead of samples * (k + 2).")
    replicates: Annotated[int, Field(ge=1, le=MAX_VALUES)] = 1
    # Stored as a 64-bit integer with the runs.
    seed: Annotated[int, Field(ge=0, le=2**63 - 1)] = 0
    metrics: list[str] = Field(min_length=1, description="Summary keys to keep.")
    series: SeriesSpec | None = None
    report: ReportSpec = Field(default_factory=ReportSpec)

    @model_validator(mode="after")
    def _consistent(self, info: ValidationInfo) -> Experiment:
        # A sweep already run (its manifest) is read as it was run: the floors on
        # the design's size are for new designs, and its report warns if it was small.
        stored = bool((info.context or {}).get("stored"))
        for key in self.parameters:
            split_key_path(key)
        if self.design == "grid":
            loose = [k for k, p in self.parameters.items() if p.interval is not None]
            if loose:
                raise ValueError(f"parameters.{loose[0]}: an interval has no grid; allowed: "
                                 f"values or range with design = 'grid'")
            if self.samples is not None:
                raise ValueError("samples: a grid design takes every combination of the "
                                 "values, not samples; allowed: no samples with design = "
                                 "'grid', or a sampling design (random, lhs, sobol, morris)")
        elif self.samples is None:
            raise ValueError(f"samples: required with design = '{self.design}'; allowed: "
                             f"a whole number >= 1")
        if self.design == "sobol" and self.samples & (self.samples - 1):
            above = max(MIN_SOBOL_SAMPLES, 1 << self.samples.bit_length())
            raise ValueError(f"samples: {self.samples} is not a power of 2; allowed: a "
                             f"power of 2 of at least {MIN_SOBOL_SAMPLES} (Sobol "
                             f"sequences need it), such as {above:,}")
        if self.design == "sobol" and self.samples < MIN_SOBOL_SAMPLES and not stored:
            per = self.size() / self.samples  # points per base sample: k + 2 or 2k + 2
            raise ValueError(f"samples: {self.samples} is too few for Sobol indices of "
                             f"{len(self.parameters)} parameters; allowed: a power of 2 of "
                             f"at least {MIN_SOBOL_SAMPLES}, {MIN_SOBOL_SAMPLES * per:,.0f} "
                             f"points here (fewer give indices outside 0 to 1 and "
                             f"intervals too wide to rank them)")
        if (self.design == "morris" and self.samples < MIN_MORRIS_TRAJECTORIES
                and not stored):
            raise ValueError(f"samples: {self.samples} Morris trajectory gives no spread "
                             f"of elementary effects (sigma) and no interval; allowed: at "
                             f"least {MIN_MORRIS_TRAJECTORIES} (10 or more for screening)")
        stray = [m for m in self.report.log if m not in self.metrics]
        if stray:
            raise ValueError(f"report.log: {', '.join(stray)} not among the metrics; "
                             f"allowed: {', '.join(self.metrics)}")
        if self.second_order and self.design != "sobol":
            raise ValueError("second_order: only a Sobol design has second-order indices; "
                             "allowed: second_order = true with design = 'sobol'")
        if self.design in ("sobol", "morris") and len(self.parameters) < 2:
            raise ValueError(f"parameters: {self.design} needs at least 2; allowed: 2 or more")
        points = self.size()
        if points > MAX_POINTS:
            key = "parameters" if self.design == "grid" else "samples"
            raise ValueError(f"{key}: the {self.design} design has {points:,.0f} points; "
                             f"allowed: at most {MAX_POINTS:,} (fewer values or samples, or "
                             f"several experiments)")
        if points * self.replicates > MAX_RUNS:
            raise ValueError(f"replicates: {points:,.0f} points x {self.replicates:,} "
                             f"replicates is {points * self.replicates:,.0f} runs; allowed: "
                             f"at most {MAX_RUNS:,} runs")
        return self

    def size(self) -> float:
        """The number of design points, counted without making them (a float: a grid
        may have astronomically many)."""
        k = len(self.parameters)
        if self.design == "grid":
            return math.prod(p.size() for p in self.parameters.values())
        if self.design == "sobol" and self.second_order:
            return float(self.samples * (2 * k + 2))
        return float(self.samples * {"sobol": k + 2, "morris": k + 1}.get(self.design, 1))

    def fingerprint(self) -> str:
        """A hash of everything that decides the runs' results (not the question's
        wording or the report's options)."""
        # second_order is left out while false, so that the hash of every experiment
        # written before it existed (and the folder a rerun resumes) stays the same.
        exclude = {"question", "report"} | (set() if self.second_order else {"second_order"})
        text = json.dumps(self.model_dump(mode="json", exclude=exclude), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    def problem(self) -> dict[str, Any]:
        """SALib's problem: interval parameters on their bounds, others on [0, 1]."""
        names = list(self.parameters)
        bounds = [[p.interval.low, p.interval.high] if p.interval else [0.0, 1.0]
                  for p in self.parameters.values()]
        return {"num_vars": len(names), "names": names, "bounds": bounds}


def stored_experiment(data: Any) -> Experiment:
    """The experiment of a sweep already run (its manifest's ``experiment``), checked as
    a file is except for the floors on a design's size (:data:`MIN_SOBOL_SAMPLES`,
    :data:`MIN_MORRIS_TRAJECTORIES`): a sweep run before they were set stays readable."""
    return Experiment.model_validate(data, context={"stored": True})


def design_matrix(exp: Experiment) -> np.ndarray | None:
    """The sampling design in SALib's coordinates (rows are points), or none for a grid."""
    k = len(exp.parameters)
    rng = np.random.default_rng(np.random.SeedSequence(exp.seed, spawn_key=(2**31,)))
    if exp.design == "grid":
        return None
    if exp.design == "random":
        return rng.random((exp.samples, k))
    if exp.design == "lhs":
        return qmc.LatinHypercube(d=k, seed=rng).random(exp.samples)
    problem = exp.problem()
    seed = int(rng.integers(2**31))
    if exp.design == "sobol":
        from SALib.sample import sobol

        return sobol.sample(problem, exp.samples, calc_second_order=exp.second_order,
                            seed=seed)
    from SALib.sample import morris

    return morris.sample(problem, exp.samples, num_levels=exp.morris_levels, seed=seed)


def design_points(exp: Experiment) -> list[dict[str, Scalar]]:
    """Every design point, in a fixed order: parameter key path to value."""
    names = list(exp.parameters)
    if exp.design == "grid":
        grids = [exp.parameters[n].discrete() for n in names]
        return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*grids)]
    matrix = design_matrix(exp)
    points = []
    for row in matrix:
        point = {}
        for name, x, bound in zip(names, row, exp.problem()["bounds"], strict=True):
            param = exp.parameters[name]
            if param.interval is not None and exp.design in ("sobol", "morris"):
                u = (x - bound[0]) / (bound[1] - bound[0])
            else:
                u = x
            point[name] = param.from_unit(float(min(max(u, 0.0), 1.0)))
        points.append(point)
    return points


def parse_vary(text: str) -> tuple[str, dict[str, Any]]:
    """A Hydra-style ``--vary`` into a parameter: ``key=a,b,c``,
    ``key=range(start,stop[,step])`` or ``key=interval(low,high)``.

    >>> parse_vary("sector.fortification_level=0.2,0.5,0.8")
    ('sector.fortification_level', {'values': [0.2, 0.5, 0.8]})
    >>> parse_vary("defender.drones=range(0,40,10)")
    ('defender.drones', {'range': {'start': 0.0, 'stop': 40.0, 'step': 10.0}})
    """
    key, sep, spec = text.partition("=")
    key, spec = key.strip(), spec.strip()
    if not sep or not key or not spec:
        raise ValueError(f"'{text}' is not a sweep; allowed: key=a,b,c, "
                         f"key=range(start,stop,step) or key=interval(low,high)")
    call = re.fullmatch(r"(range|interval)\((.*)\)", spec)
    if call:
        try:
            numbers = [float(x) for x in call.group(2).split(",")]
        except ValueError:
            raise ValueError(f"'{spec}': {call.group(1)} takes numbers") from None
        if call.group(1) == "interval" and len(numbers) == 2:
            return key, {"interval": {"low": numbers[0], "high": numbers[1]}}
        if call.group(1) == "range" and len(numbers) in (2, 3):
            names = ("start", "stop", "step")
            return key, {"range": dict(zip(names, numbers, strict=False))}
        raise ValueError(f"'{spec}': allowed: range(start,stop[,step]) or interval(low,high)")
    values = [parse_assignment(f"{key}={item}")[1] for item in spec.split(",")]
    return key, {"values": values}


#: Keys of an experiment that ``attrition sweep`` can set from its flags
#: (``--replicates``, ``--samples``, ``--seed``).
SIZE_KEYS = ("replicates", "samples", "seed")


def load_experiment(path: str | Path, vary: list[str] | tuple[str, ...] = (),
                    sizes: dict[str, int] | None = None) -> Experiment:
    """Read and validate an experiment file (or one named in ``experiments/``); ``vary``
    adds or replaces parameters (``--vary``) and ``sizes`` replaces the file's
    ``replicates``, ``samples`` or ``seed`` (:data:`SIZE_KEYS`), before validation: they
    are checked, and enter the experiment's hash, as the file's own values would be.
    Raises :class:`sim.scenarios.ScenarioError` (one line)."""
    try:
        path = find(path, kind="experiments")
    except FileNotFoundError:
        known = ", ".join(available("experiments")) or "none"
        raise ScenarioError(path, "", f"no such file or named experiment; allowed: a TOML "
                                      f"file or one of {known}") from None
    data = read_toml(path)
    if vary and not isinstance(data.setdefault("parameters", {}), dict):
        raise ScenarioError(path, "parameters", "not a table; allowed: a table of key paths "
                                                "to values, range or interval")
    for text in vary:
        try:
            key, spec = parse_vary(text)
        except ValueError as err:
            raise ScenarioError(path, f"--vary {text}", str(err)) from None
        data["parameters"][key] = spec
    for key, value in (sizes or {}).items():
        if key not in SIZE_KEYS:
            raise ValueError(f"sizes: {key!r} is not one of {', '.join(SIZE_KEYS)}")
        data[key] = value
    try:
        exp = Experiment.model_validate(data)
    except ValidationError as err:
        raise explain(err, path, root=Experiment) from None
    check_values(exp, path)
    return exp


def base_data(exp: Experiment, file: str | Path | None = None) -> tuple[Path, dict[str, Any]]:
    """The experiment's base scenario (found beside the experiment ``file`` first, then
    by name) as read, with the experiment's ``set`` applied: not yet validated."""
    base: str | Path = exp.scenario
    if file is not None:
        try:
            base = find(exp.scenario, relative_to=Path(file).parent)
        except FileNotFoundError:
            pass
    path, data = read(base)
    for key, value in flatten(exp.set).items():
        try:
            assign(data, key, value)
        except (KeyError, ValueError) as err:
            raise ScenarioError(file or path, f"set.{key}", str(err.args[0])) from None
    return path, data


def scenario_at(base: dict[str, Any], params: dict[str, Any]) -> Scenario:
    """The base scenario's data (:func:`base_data`) with a design point's parameter
    values set, validated: the scenario a sweep runs at that point."""
    data = copy.deepcopy(base)
    for key, value in params.items():
        assign(data, key, value)
    return Scenario.model_validate(data)


def check_values(exp: Experiment, file: str | Path) -> None:
    """Check, before any run, that the base scenario (with ``set``) is valid and that
    every key a parameter names is there and takes each of its values (set alone on the
    base): a value of the wrong type (a string for a count), outside the key's limits or
    at a key that is not there is a :class:`ScenarioError` naming ``parameters.KEY``. A
    range or an interval is checked at both ends (the values between have the same type,
    and every limit is an interval); a list, value by value. Checks of whole sections
    (units that fit the sector, the memory of a run) are left to the runs, as values that
    fail alone may go with another parameter's."""
    _, data = base_data(exp, file)
    validate(data, file)
    for name, param in exp.parameters.items():
        if param.values is not None:
            # By type and value: True and 1 are different values here.
            values = list({(type(v).__name__, v): v for v in param.values}.values())
        elif param.range is not None:
            values = param.range.values()
            values = [values[0], values[-1]]
        else:
            values = [param.from_unit(0.0), param.from_unit(1.0)]
        for value in values:
            point = copy.deepcopy(data)
            try:
                assign(point, name, value)
                Scenario.model_validate(point)
            except (KeyError, ValueError) as err:
                if isinstance(err, ValidationError):
                    if all(e["type"] == "value_error" for e in err.errors()):
                        continue
                    found = explain(err, file)
                    problem = (found.problem if found.key == name
                               else f"{found.key}: {found.problem}")
                else:
                    problem = str(err.args[0])
                if "(got " not in problem:
                    problem += f" (at {shorten(repr(value), 40)})"
                raise ScenarioError(file, f"parameters.{name}", problem) from None
