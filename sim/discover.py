"""Scenario discovery over a finished sweep: under which conditions does an outcome occur?

``discover(folder, where)`` reads a sweep's runs, marks each ok run by whether the
condition ``where`` holds (:mod:`sim.where`, parsed as data, never run as code), and
asks two questions of the varied parameters:

* **PRIM** (the Patient Rule Induction Method of Friedman and Fisher, as EMA Workbench
  implements it, :mod:`ema_workbench.analysis.prim`): a box, limits on a few parameters,
  inside which the condition holds for most runs (density) and which holds most of the
  runs where it does (coverage). PRIM peels the box from the whole sampled space, a
  slice of ``PEEL_ALPHA`` of the runs at a time, then pastes back what helps; every step
  is a box on its *peeling trajectory*. The box reported is chosen by a stated rule:
  **the densest box on the trajectory whose coverage is at least** ``min_coverage``
  (ties: the larger coverage, then fewer restricted parameters, then the earlier step).
  For each restricted limit, EMA Workbench's quasi-p value (Bryant and Lempert 2010, a
  one-sided binomial test of the box's density against the box without that limit)
  says whether the limit could be chance. A parameter whose every limit has a quasi-p
  value above :data:`SIGNIFICANCE` is a candidate to drop, the least significant first,
  one at a time; the box without its limits is made (EMA Workbench's
  ``drop_restriction``, a further box after the peeling trajectory) and **adopted only if
  it keeps at least** ``1 -`` :data:`MAX_DENSITY_LOSS` **of the density** (loses less
  than 5% of it). Why not always drop: a quasi-p value above 0.05 says the data cannot
  show the limit's gain in density is real, not that there is none; with a few dozen
  runs in a box the test has little power, and a limit whose removal costs much density
  (0.549 to 0.475 in an analyst's sweep, a limit whose feature score equalled a kept
  one's) is more likely a real but unproven restriction than noise. Dropping buys a
  simpler box; it is taken when it is nearly free, and otherwise the limit is kept and
  marked as possibly chance. Both boxes are on the trajectory, and ``discovery.md``, the
  command's output (:meth:`Discovery.summary_lines`) and ``discovery.json`` give each
  candidate's quasi-p value and the coverage and density with and without it.
* **Feature scores**: how much each parameter tells of the condition, as the impurity
  importance of extra trees (EMA Workbench's ``get_ex_feature_scores``, scikit-learn's
  ``ExtraTreesClassifier``), with a ``random_state`` drawn from the sweep's master seed,
  so that the same sweep gives the same scores.

Only runs with status ``ok`` enter: a failed run has no metrics. A comparison with a
missing value (a pool never exhausted has no ``attacker_pool_exhausted_day``) is false;
the output counts such runs. Numeric parameters are intervals to PRIM (an integer one's
limits may fall between two whole values, as PRIM sets a limit halfway between the last
run kept and the first one peeled); text and true/false parameters are categories, and
the box keeps a set of them. Parameters that are the same in every ok run are left out.

``write_discovery(folder, discovery)`` writes ``discover-SLUG/`` inside the sweep's
folder whole or not at all (:func:`sim.publish.publishing`): ``discovery.md``,
``discovery.json``, ``peeling.png``, ``box.png`` and ``feature_scores.png``; the same
condition again replaces its folder.

    >>> import tempfile
    >>> from sim.experiments import Experiment
    >>> from sim.sweep import run_sweep
    >>> exp = Experiment.model_validate({"question": "When do the defenders hold?",
    ...     "scenario": "fortified_defense", "set": {"max_days": 2}, "design": "random",
    ...     "samples": 1, "parameters": {"defender.drones": {"values": [0, 50]}},
    ...     "metrics": ["attacker_killed"]})
    >>> out = run_sweep(exp, tempfile.mkdtemp(), progress=False).out
    >>> try:
    ...     discover(out, "attacker_killed > 0")
    ... except DiscoveryError as err:
    ...     print(str(err).split(": ", 1)[1])
    1 ok run; allowed: a sweep of at least 20 ok runs (PRIM's smallest box holds 5% of them)
"""

from __future__ import annotations

import hashlib
import importlib
import json
import math
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from sim.experiments import Experiment, stored_experiment  # noqa: E402
from sim.publish import named_folder, publishing, safe_name, shown  # noqa: E402
from sim.report import md, md_code  # noqa: E402
from sim.sweep_check import check  # noqa: E402
from sim.sweep_store import MANIFEST_FILE, RUNS_FILE, StoreError, read_manifest  # noqa: E402
from sim.views import plain  # noqa: E402
from sim.where import WhereError, kind_of, kinds, parse  # noqa: E402

#: Ok runs at least: PRIM's smallest box (``MASS_MIN`` of the runs) then holds a run.
MIN_RUNS = 20
#: The chosen box's coverage at least, by default: it holds 80% of the runs where the
#: condition holds (the usual starting point of scenario discovery, Bryant and Lempert
#: 2010, who trade coverage against density from there).
DEFAULT_MIN_COVERAGE = 0.8
#: PRIM's settings (EMA Workbench's defaults): each peel removes 5% of the runs in the
#: box, each paste adds up to 5%, and no box holds fewer than 5% of the runs.
PEEL_ALPHA = 0.05
PASTE_ALPHA = 0.05
MASS_MIN = 0.05
#: A quasi-p value above this says a limit may be chance (Bryant and Lempert 2010).
SIGNIFICANCE = 0.05
#: A limit that may be chance is dropped only if the box without it keeps at least
#: ``1 - MAX_DENSITY_LOSS`` of its density (a share of the density, not points of it: a
#: rare outcome's density of 0.2 losing 0.05 loses a quarter of it). See the module's
#: docstring for why not always drop.
MAX_DENSITY_LOSS = 0.05
#: A numeric parameter with at most this many values (a grid's) has them listed in a box.
FEW_VALUES = 12
#: Trees in the extra-trees forest of the feature scores (EMA Workbench's default).
TREES = 100
#: The feature scores' seed stream: ``SeedSequence(sweep seed, spawn_key=(SCORE_KEY,))``,
#: apart from the runs' ``(point, replicate)`` and the design's ``(2**31,)``.
SCORE_KEY = 2**31 + 1
#: The note every output carries about missing values, in Markdown: the program's own
#: text, so its expressions are code spans (user text never enters it).
MISSING_RULE_MD = ("A comparison with a missing value (a metric a run did not reach, such "
                   "as the day of a pool that was never exhausted) is false, `!=` "
                   "included; `not` negates the result, so `not (day <= 730)` holds where "
                   "the day is missing but `day > 730` does not.")
#: The same as plain text (discovery.json).
MISSING_RULE = MISSING_RULE_MD.replace("`", "")
#: What the quasi-p columns mean.
QUASI_P_RULE = ("A quasi-p value is a one-sided binomial test of the box's density against "
                "the box without that limit (Bryant and Lempert 2010): \"low\" is the "
                "quasi-p value of the box's lower limit on the parameter, \"high\" that of "
                "its upper limit; a side the box leaves at the edge of the sampled values "
                "has none, and a set of categories has one. Below the significance level "
                "the limit is unlikely to be chance.")
OK_RULE = "Only runs with status ok enter; failed runs have no metrics and are left out."


class DiscoveryError(ValueError):
    """A sweep or a condition discovery cannot work with; ``str()`` is one line."""


@dataclass(frozen=True)
class Limit:
    """A box's limit on one parameter. Numbers: ``low``/``high`` (``None`` on a side the
    box does not restrict); categories: ``kept`` of ``categories``. ``sampled_low`` and
    ``sampled_high`` span the values the ok runs took; ``declared_low``/``declared_high``
    the experiment's interval (or its values' span) and ``declared_values`` its values
    (a category's names, or the numbers of a ``values``/``range`` parameter);
    ``qp_low``/``qp_high`` are the quasi-p values of each restricted side (a category set
    has one, ``qp_low``)."""

    parameter: str
    unit: str
    low: float | None = None
    high: float | None = None
    sampled_low: float | None = None
    sampled_high: float | None = None
    kept: tuple[str, ...] | None = None
    categories: tuple[str, ...] | None = None
    qp_low: float | None = None
    qp_high: float | None = None
    #: A number the runs took at most :data:`FEW_VALUES` values of (a grid's): those in
    #: the box.
    values: tuple[float, ...] | None = None
    declared_low: float | None = None
    declared_high: float | None = None
    declared_values: tuple[float | str, ...] | None = None

    def text(self) -> str:
        """The limit as a condition: ``0.2 <= x1 <= 0.5``, ``x2 >= 0.7``,
        ``tactic in {human_wave}``."""
        if self.kept is not None:
            return f"{self.parameter} in {{{', '.join(self.kept)}}}"
        unit = f" {self.unit}" if self.unit else ""
        if self.low is not None and self.high is not None:
            text = f"{_number(self.low)} <= {self.parameter} <= {_number(self.high)}{unit}"
        elif self.low is not None:
            text = f"{self.parameter} >= {_number(self.low)}{unit}"
        else:
            text = f"{self.parameter} <= {_number(self.high)}{unit}"
        if self.values is not None:
            text += f" (of the values run: {', '.join(_number(v) for v in self.values)})"
        return text

    def significant(self) -> bool:
        """Whether every restricted side's quasi-p value is below :data:`SIGNIFICANCE`."""
        return all(p < SIGNIFICANCE for p in (self.qp_low, self.qp_high) if p is not None)

    def may_be_chance(self) -> bool:
        """Whether every restricted side's quasi-p value is above :data:`SIGNIFICANCE`
        (the limit is a candidate to drop)."""
        sides = [p for p in (self.qp_low, self.qp_high) if p is not None]
        return bool(sides) and all(p > SIGNIFICANCE for p in sides)


@dataclass(frozen=True)
class Box:
    """A box of the peeling trajectory: ``step`` on it, its statistics (``coverage``:
    share of the runs where the condition holds that are in the box; ``density``: share
    of the box's runs where it holds; ``mass``: share of all runs in the box) and its
    limits on the restricted parameters."""

    step: int
    coverage: float
    density: float
    mass: float
    runs: int
    cases: int
    limits: tuple[Limit, ...]
    #: For a box made from another by dropping a limit that may be chance: that box's
    #: step, the parameter whose limit was dropped, and whether the box was adopted (it
    #: kept enough density, :data:`MAX_DENSITY_LOSS`) or the limit kept.
    derived_from: int | None = None
    dropped: str | None = None
    adopted: bool | None = None


@dataclass(frozen=True)
class Discovery:
    """What :func:`discover` found; :func:`write_discovery` writes it."""

    where: str
    condition: str
    question: str
    runs: int
    failed: int
    cases: int
    missing: dict[str, int]
    parameters: tuple[str, ...]
    constant: tuple[str, ...]
    min_coverage: float
    #: PRIM's boxes: its peeling and pasting steps, then any made by dropping limits.
    trajectory: tuple[Box, ...]
    #: The step the rule picks (:func:`choose`), and the box reported: that box with the
    #: limits that may be chance dropped (the same step if none was).
    picked: int
    chosen: int
    scores: tuple[tuple[str, float], ...]
    score_seed: int
    oob_accuracy: float | None
    library: str

    @property
    def box(self) -> Box:
        """The chosen box."""
        return self.trajectory[self.chosen]

    def candidates(self) -> list[tuple[Box, Box, Limit]]:
        """Each box made by dropping a limit that may be chance, with the box it was made
        from and the limit dropped (as it stood in that box), in the order tried."""
        out = []
        for box in self.trajectory:
            if box.derived_from is not None:
                source = self.trajectory[box.derived_from]
                limit = next(lim for lim in source.limits if lim.parameter == box.dropped)
                out.append((box, source, limit))
        return out

    def origin(self, name=str) -> str:
        """Where the reported box comes from, honestly: ``step 43 of the peeling
        trajectory``, then ``, then the limit on X dropped`` for each limit dropped
        (``name`` formats a parameter's name, e.g. as Markdown code)."""
        dropped = [box.dropped for box, _, _ in self.candidates() if box.adopted]
        text = f"step {self.picked} of the peeling trajectory"
        if dropped:
            text += (f", then the limit{'s' * (len(dropped) > 1)} on "
                     f"{' and '.join(name(p) for p in dropped)} dropped")
        return text

    def candidate_text(self, box: Box, source: Box, limit: Limit, name=str) -> str:
        """One sentence on a limit that may be chance: its quasi-p value, the coverage
        and density with and without it, and whether it was dropped by the rule."""
        loss = 1 - box.density / source.density if source.density else 0.0
        verdict = (f"a loss of {loss:.0%} of the density, less than the "
                   f"{MAX_DENSITY_LOSS:.0%} the rule allows, so it was dropped"
                   if box.adopted else
                   f"a loss of {loss:.0%} of the density, more than the "
                   f"{MAX_DENSITY_LOSS:.0%} the rule allows, so it was kept (marked as "
                   f"possibly chance)")
        score = dict(self.scores).get(limit.parameter)
        scored = f"; feature score {score:.3f}" if score is not None else ""
        return (f"The limit on {name(limit.parameter)} ({_quasi_p_words(limit)}, above "
                f"{SIGNIFICANCE}{scored}) may be chance. Without it (box {box.step}) coverage goes "
                f"from {source.coverage:.3f} to {box.coverage:.3f} and density from "
                f"{source.density:.3f} to {box.density:.3f}: {verdict}.")

    def summary_lines(self) -> list[str]:
        """What ``attrition discover`` prints (raw text: the caller makes it printable):
        the condition's count, the reported box with where it comes from, its limits,
        and a line on each limit that may be chance (dropped or kept)."""
        box = self.box
        failed = f" ({self.failed} failed runs left out)" if self.failed else ""
        lines = [f"{self.condition}: true in {self.cases} of {self.runs} ok runs{failed}",
                 f"Box ({self.origin()}): coverage {box.coverage:.3f}, density "
                 f"{box.density:.3f}, mass {box.mass:.3f}"]
        for limit in box.limits:
            chance = " (may be chance)" if limit.may_be_chance() else ""
            lines.append(f"  {limit.text()}{chance}")
        lines += [self.candidate_text(*candidate) for candidate in self.candidates()]
        return lines


# -------------------------------------------------------------------- discovery
def discover(folder: str | Path, where: str,
             min_coverage: float = DEFAULT_MIN_COVERAGE) -> Discovery:
    """Scenario discovery of the condition ``where`` over the finished sweep in
    ``folder``: PRIM's box (the densest on its peeling trajectory with coverage of at
    least ``min_coverage``) and the parameters' feature scores. Raises
    :class:`DiscoveryError` or :class:`sim.where.WhereError` (one line) for a sweep that
    is not complete, has fewer than :data:`MIN_RUNS` ok runs, or a condition that holds
    for none or all of them."""
    folder = Path(folder)
    if isinstance(min_coverage, bool) or not (isinstance(min_coverage, int | float)
                                              and 0 < min_coverage <= 1):
        raise DiscoveryError(f"min_coverage {min_coverage!r}: allowed: a number above 0 and "
                             f"at most 1 (a share of the runs where the condition holds)")
    exp, runs = _read_sweep(folder)
    ok = runs[runs["status"] == "ok"].reset_index(drop=True)
    names = [*exp.metrics, *(p for p in exp.parameters if p not in exp.metrics)]
    condition = parse(where, kinds(ok, names))
    if len(ok) < MIN_RUNS:
        raise DiscoveryError(f"{shown(folder)}: {len(ok)} ok run{'s' * (len(ok) != 1)}; "
                             f"allowed: a sweep of at least {MIN_RUNS} ok runs (PRIM's "
                             f"smallest box holds {MASS_MIN:.0%} of them)")
    truth = condition.truth(ok)
    cases = int(truth.sum())
    if cases in (0, len(ok)):
        which = "none" if cases == 0 else "every one"
        raise DiscoveryError(f"where {shown(condition)}: holds for {which} of the {len(ok)} ok "
                             f"runs of {shown(folder)}, nothing to discover; allowed: a "
                             f"condition true for some runs and false for others")
    x, columns, constant = _inputs(ok, exp)
    if not columns:
        raise DiscoveryError(f"{shown(folder)}: every varied parameter has one value in all "
                             f"ok runs; allowed: a sweep whose parameters vary")
    seed = int(np.random.SeedSequence(exp.seed, spawn_key=(SCORE_KEY,)).generate_state(1)[0])
    trajectory, picked, chosen = _prim(x, truth, columns, min_coverage,
                                       {c: exp.parameters[p] for c, p in columns.items()})
    scores, oob = _scores(x, truth, columns, seed)
    missing = {n: int(ok[n].isna().sum()) for n in sorted(condition.names())}
    return Discovery(where=where, condition=str(condition), question=exp.question,
                     runs=len(ok), failed=len(runs) - len(ok), cases=cases,
                     missing={n: k for n, k in missing.items() if k},
                     parameters=tuple(columns.values()), constant=tuple(constant),
                     min_coverage=float(min_coverage), trajectory=trajectory, picked=picked,
                     chosen=chosen, scores=scores, score_seed=seed, oob_accuracy=oob,
                     library=_library())


def choose(trajectory: tuple[Box, ...] | list[Box], min_coverage: float) -> int:
    """The step of the box chosen from a peeling trajectory: the densest box whose
    coverage is at least ``min_coverage``; ties go to the larger coverage, then to fewer
    restricted parameters, then to the earlier step. The first box (all runs, coverage
    1) always qualifies."""
    eligible = [b for b in trajectory if b.coverage >= min_coverage - 1e-12]
    best = max(eligible, key=lambda b: (b.density, b.coverage, -len(b.limits), -b.step))
    return best.step


def _read_sweep(folder: Path) -> tuple[Experiment, pd.DataFrame]:
    problems = check(folder)
    if problems:
        raise DiscoveryError(f"{problems[0]}; allowed: a complete sweep folder (attrition "
                             f"verify {shown(folder)} lists every problem)")
    try:
        manifest = read_manifest(folder / MANIFEST_FILE)
        exp = stored_experiment(manifest["experiment"])
    except (StoreError, KeyError, TypeError, ValueError) as err:
        raise DiscoveryError(f"{shown(folder / MANIFEST_FILE)}: not a sweep's manifest "
                             f"({str(err).splitlines()[0][:200]}); allowed: a folder "
                             f"attrition sweep wrote") from None
    return exp, pd.read_parquet(folder / RUNS_FILE)


def _inputs(ok: pd.DataFrame, exp: Experiment
            ) -> tuple[pd.DataFrame, dict[str, str], list[str]]:
    """PRIM's inputs: a column per parameter that varies among the ok runs, named
    ``x0, x1, ...`` (EMA Workbench need not read key paths), numbers as floats and
    anything else as categories of their text (true/false as TOML writes them). Returns
    the inputs, their names to parameters, and the parameters left out as constant."""
    x, columns, constant = {}, {}, []
    for parameter in exp.parameters:
        values = ok[parameter]
        if values.nunique(dropna=False) < 2:
            constant.append(parameter)
            continue
        name = f"x{len(columns)}"
        if kind_of(values) == "number":
            # As floats: EMA Workbench 2.5 fails to paste an integer column under pandas 3
            # (it writes a halfway limit into an int64 frame).
            x[name] = values.astype(float)
        else:
            x[name] = pd.Categorical(values.map(_label))
        columns[name] = parameter
    return pd.DataFrame(x), columns, constant


def _label(value: Any) -> str:
    if isinstance(value, bool | np.bool_):
        return "true" if value else "false"
    return str(value)


def _ema(module: str):
    """An EMA Workbench analysis module, imported without side effects: the workbench
    warns on import that ipyparallel (a cluster back end not used here) is missing, and
    sets seaborn's palette, which is matplotlib's colour cycle for every later figure
    (restored here)."""
    with warnings.catch_warnings(), matplotlib.rc_context():
        warnings.filterwarnings("ignore", message="ipyparallel not installed")
        return importlib.import_module(f"ema_workbench.analysis.{module}")


@contextmanager
def _library_calls() -> Iterator[None]:
    """EMA Workbench 2.5 calls pandas in ways pandas 3 deprecates (``inplace=``): those
    warnings are the library's, not the user's."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning,
                                module=r"ema_workbench\.")
        yield


def _prim(x: pd.DataFrame, truth: np.ndarray, columns: dict[str, str],
          min_coverage: float, declared: dict[str, Any]
          ) -> tuple[tuple[Box, ...], int, int]:
    """PRIM's peeling trajectory, the box :func:`choose` picks on it, and that box with
    its limits that may be chance dropped where that costs little density
    (:func:`_drop_chance_limits`). Returns every box (those made by dropping a limit
    last), the step picked and the step reported. ``declared``: each column's
    :class:`sim.experiments.Parameter`."""
    prim = _ema("prim")
    y = truth.astype(int)
    with _library_calls():
        # A case of interest is y >= threshold, i.e. y = 1, for any threshold in (0, 1];
        # EMA Workbench also throws a box away whose density is below the threshold, and
        # 1/n keeps every box that holds a case: the box is chosen here, by choose().
        finder = prim.Prim(x, y, threshold=1 / len(y), peel_alpha=PEEL_ALPHA,
                           paste_alpha=PASTE_ALPHA, mass_min=MASS_MIN)
        found = finder.find_box()
        picked = choose(_boxes(found, columns, declared), min_coverage)
        drops = _drop_chance_limits(found, picked)
    adopted = [step for step, (_, _, kept) in drops.items() if kept]
    return _boxes(found, columns, declared, drops), picked, max(adopted, default=picked)


def _drop_chance_limits(found, step: int) -> dict[int, tuple[int, str, bool]]:
    """From box ``step``, try one at a time to drop the parameter whose limits may be
    chance (every restricted side's quasi-p value above :data:`SIGNIFICANCE`), the least
    significant first, as Bryant and Lempert (2010) advise: each try adds a box to the
    trajectory (EMA Workbench's ``drop_restriction``), adopted (the next try starts from
    it) if it keeps at least ``1 - MAX_DENSITY_LOSS`` of the density, else the limit is
    kept and the next candidate tried. Returns each added box's step with the step it
    was made from, the (EMA) name of the parameter dropped and whether it was adopted."""
    drops, kept = {}, set()
    while True:
        weak = {name: min(q for q in sides if q >= 0)
                for name, sides in found.qp[step].items()
                if name not in kept and any(q >= 0 for q in sides)}
        weak = {name: q for name, q in weak.items() if q > SIGNIFICANCE}
        if not weak:
            return drops
        name = max(weak, key=weak.get)
        before = float(found.peeling_trajectory["density"].iloc[step])
        found.drop_restriction(name, i=step)
        new = len(found.box_lims) - 1
        after = float(found.peeling_trajectory["density"].iloc[new])
        adopted = after >= (1 - MAX_DENSITY_LOSS) * before - 1e-12
        drops[new] = (step, name, adopted)
        if adopted:
            step = new
        else:
            kept.add(name)


def _boxes(found, columns: dict[str, str], declared: dict[str, Any],
           drops: dict[int, tuple[int, str, bool]] | None = None) -> tuple[Box, ...]:
    """The boxes of EMA Workbench's PrimBox ``found``, those made by dropping a limit
    (``drops``, from :func:`_drop_chance_limits`) marked as such."""
    initial = found.box_lims[0]
    units = {name: _unit(parameter) for name, parameter in columns.items()}
    boxes = []
    for step, row in found.peeling_trajectory.reset_index(drop=True).iterrows():
        limits = found.box_lims[step]
        source, dropped, adopted = (drops or {}).get(step, (None, None, None))
        boxes.append(Box(
            step=int(step), coverage=float(row["coverage"]), density=float(row["density"]),
            mass=float(row["mass"]), runs=int(row["n"]), cases=int(row["k"]),
            limits=tuple(_limit(columns[name], units[name], limits[name], initial[name],
                                found.qp[step].get(name), found.prim.x[name],
                                declared[name])
                         for name in columns if not _same(limits[name], initial[name])),
            derived_from=source, dropped=columns[dropped] if dropped else None,
            adopted=adopted))
    return tuple(boxes)


def _same(limits: pd.Series, initial: pd.Series) -> bool:
    return all(a == b for a, b in zip(limits, initial, strict=True))


def _limit(parameter: str, unit: str, limits: pd.Series, initial: pd.Series,
           qp: list[float] | None, values: pd.Series, spec: Any) -> Limit:
    """A restricted parameter's :class:`Limit` from its box limits and the initial box's
    (rows: lower, upper; EMA Workbench marks a quasi-p value that does not apply -1),
    the values the runs took and the experiment's ``spec`` of the parameter
    (:class:`sim.experiments.Parameter`: its declared interval or values)."""
    qp_low, qp_high = [None if q is None or q < 0 else float(q) for q in (qp or [None, None])]
    listed = spec.discrete()
    if isinstance(values.dtype, pd.CategoricalDtype):
        seen = tuple(sorted(initial.iloc[0]))
        names = tuple(_label(v) for v in listed) if listed is not None else seen
        return Limit(parameter, unit, kept=tuple(sorted(limits.iloc[0])),
                     categories=seen, qp_low=qp_low,
                     declared_values=names + tuple(c for c in seen if c not in names))
    low, high = float(limits.iloc[0]), float(limits.iloc[1])
    first, last = float(initial.iloc[0]), float(initial.iloc[1])
    distinct = np.unique(values.to_numpy(dtype=float))
    inside = tuple(float(v) for v in distinct if low <= v <= high)
    if listed is not None:
        numbers = sorted(float(v) for v in listed)
        declared_low, declared_high = numbers[0], numbers[-1]
    else:
        declared_low, declared_high = float(spec.interval.low), float(spec.interval.high)
    return Limit(parameter, unit, low=None if low == first else low,
                 high=None if high == last else high, sampled_low=first, sampled_high=last,
                 qp_low=qp_low if low != first else None,
                 qp_high=qp_high if high != last else None,
                 values=inside if len(distinct) <= FEW_VALUES else None,
                 declared_low=declared_low, declared_high=declared_high,
                 declared_values=tuple(numbers) if listed is not None else None)


def _scores(x: pd.DataFrame, truth: np.ndarray, columns: dict[str, str], seed: int
            ) -> tuple[tuple[tuple[str, float], ...], float | None]:
    scoring = _ema("feature_scoring")
    with _library_calls():
        # max_features: EMA Workbench's a third of the parameters, at least one (its own
        # rounding gives none for one parameter, which scikit-learn refuses).
        table, forest = scoring.get_ex_feature_scores(
            x, truth.astype(int), mode=scoring.RuleInductionType.CLASSIFICATION,
            nr_trees=TREES, max_features=max(1, round(len(columns) / 3)),
            random_state=seed)
    scores = tuple((columns[name], float(table.loc[name].iloc[0])) for name in table.index)
    oob = getattr(forest, "oob_score_", None)
    return scores, None if oob is None or not math.isfinite(oob) else float(oob)


def _library() -> str:
    from importlib.metadata import version

    return (f"EMA Workbench {version('ema_workbench')}, scikit-learn "
            f"{version('scikit-learn')}")


def _unit(parameter: str) -> str:
    """The unit of a scenario key (:func:`sim.quantities.parameter_quantity`, from its
    field's description); none for a number without one, a text, or a key outside the
    scenario schema."""
    from sim.quantities import parameter_quantity

    unit = parameter_quantity(parameter).unit
    return "" if not unit or unit == "-" else unit


def _number(value: float | None) -> str:
    return "n/a" if value is None or not math.isfinite(value) else f"{value:.4g}"


# ---------------------------------------------------------------------- writing
def discovery_folder(folder: str | Path, discovery: Discovery) -> Path:
    """Where :func:`write_discovery` writes: ``discover-WORDS-HASH`` inside the sweep's
    folder, WORDS the condition with its operators as words (``le`` for ``<=``), made
    safe and bounded (:func:`sim.publish.named_folder`), HASH the condition's, so that two
    conditions never share a folder."""
    words = discovery.condition
    for op, word in (("<=", " le "), (">=", " ge "), ("==", " eq "), ("!=", " ne "),
                     ("<", " lt "), (">", " gt ")):
        words = words.replace(op, word)
    digest = hashlib.sha256(discovery.condition.encode("utf-8", "surrogatepass")).hexdigest()
    return named_folder(folder, f"discover-{safe_name(words, 'condition', 60)}",
                        f"-{digest[:8]}")


def write_discovery(folder: str | Path, discovery: Discovery) -> Path:
    """Write ``discovery.md``, ``discovery.json`` and the figures ``peeling.png``,
    ``box.png`` and ``feature_scores.png`` into :func:`discovery_folder`, whole or not
    at all (one found before with the same condition is replaced). Every user text in
    ``discovery.md`` is escaped (:func:`sim.report.md`) and drawn as plain text. Returns
    the folder."""
    out = discovery_folder(folder, discovery)
    with publishing(out, option="discover", replace=True) as staging:
        _peeling_plot(discovery, staging / "peeling.png")
        _box_plot(discovery, staging / "box.png")
        _scores_plot(discovery, staging / "feature_scores.png")
        text = json.dumps(_json(discovery), indent=2, allow_nan=False)
        (staging / "discovery.json").write_text(text + "\n")
        (staging / "discovery.md").write_text(_markdown(discovery))
    return out


def _json(discovery: Discovery) -> dict[str, Any]:
    return {"where": discovery.where, "condition": discovery.condition,
            "question": discovery.question, "missing_values": MISSING_RULE,
            "quasi_p": QUASI_P_RULE,
            "runs": {"ok": discovery.runs, "failed_left_out": discovery.failed,
                     "condition_true": discovery.cases,
                     "missing": discovery.missing, "rule": OK_RULE},
            "parameters": list(discovery.parameters), "constant": list(discovery.constant),
            "prim": {"library": discovery.library, "peel_alpha": PEEL_ALPHA,
                     "paste_alpha": PASTE_ALPHA, "mass_min": MASS_MIN,
                     "objective": "lenient1", "trees": TREES, "significance": SIGNIFICANCE,
                     "rule": "the densest box on the peeling trajectory whose coverage is "
                             "at least min_coverage (ties: larger coverage, fewer restricted "
                             "parameters, earlier step); then each parameter whose every "
                             "limit has a quasi-p value above the significance level is "
                             "tried, the least significant first: the box without its "
                             "limits is adopted if it keeps at least 1 - max_density_loss "
                             "of the density, else the limit is kept",
                     "max_density_loss": MAX_DENSITY_LOSS,
                     "min_coverage": discovery.min_coverage, "picked": discovery.picked,
                     "chosen": discovery.chosen, "origin": discovery.origin(),
                     "candidates": [discovery.candidate_text(*c)
                                    for c in discovery.candidates()]},
            "boxes": [asdict(box) for box in discovery.trajectory],
            "feature_scores": {"method": "extra trees (impurity importance)",
                               "random_state": discovery.score_seed,
                               "oob_accuracy": discovery.oob_accuracy,
                               "scores": [{"parameter": p, "score": s}
                                          for p, s in discovery.scores]}}


def _markdown(d: Discovery) -> str:
    box = d.box
    share = d.cases / d.runs
    lines = [f"# Scenario discovery: {md_code(d.condition)}", "",
             f"Sweep: {md(d.question)}", "",
             f"{d.runs} ok runs{f' ({d.failed} failed runs left out)' if d.failed else ''}; "
             f"the condition holds for {d.cases} ({share:.1%}). {md(OK_RULE)}", "",
             f"Missing values: {MISSING_RULE_MD}"]
    for name, count in d.missing.items():
        lines.append(f"{count} of the {d.runs} runs have no value of {md_code(name)}.")
    lines += [""]
    if d.constant:
        lines += [f"Left out, the same in every ok run: "
                  f"{', '.join(md_code(p) for p in d.constant)}.", ""]
    candidates = d.candidates()
    lines += ["## The box", "",
              f"Chosen by the rule: the densest box on PRIM's peeling trajectory whose "
              f"coverage is at least {d.min_coverage:.0%} (ties: the larger coverage, then "
              f"fewer restricted parameters), step {d.picked}. Then each parameter whose "
              f"limits may all be chance (quasi-p above {SIGNIFICANCE}) is tried, the least "
              f"significant first: its limits are dropped only if the box without them "
              f"keeps at least {1 - MAX_DENSITY_LOSS:.0%} of the density. A quasi-p value "
              f"above {SIGNIFICANCE} says the runs cannot show that the limit's gain in "
              f"density is real, not that there is none: with a few dozen runs in a box "
              f"the test has little power, so a limit that costs much density to drop is "
              f"kept (and marked), and one that costs little is dropped for a simpler box.",
              ""]
    if candidates:
        lines += [f"- {d.candidate_text(*c, name=md_code)}" for c in candidates] + [""]
    else:
        lines += ["No limit of that box may be chance: none was tried.", ""]
    lines += [f"The box reported: {d.origin(md_code)}.", "",
              f"- coverage {box.coverage:.3f}: the box holds {box.cases} of the {d.cases} "
              f"runs where the condition holds;",
              f"- density {box.density:.3f}: the condition holds for {box.cases} of the "
              f"{box.runs} runs in the box (all runs: {share:.3f});",
              f"- mass {box.mass:.3f}: the box holds {box.runs} of the {d.runs} runs.", ""]
    if box.limits:
        lines += ["| parameter | in the box | declared in the experiment | quasi-p |",
                  "| --- | --- | --- | --- |"]
        for limit in box.limits:
            chance = " (may be chance, kept)" if limit.may_be_chance() else ""
            lines.append(f"| {md_code(limit.parameter)} | {md(limit.text())} | "
                         f"{md(_declared(limit))} | {_quasi_p(limit)}{chance} |")
        lines += ["", QUASI_P_RULE, ""]  # the program's own text: nothing to escape
    else:
        lines += ["No box restricts any parameter at this coverage: the condition is not "
                  "concentrated in a region of the sampled space (lower the coverage to see "
                  "denser boxes).", ""]
    last = max(b.step for b in d.trajectory if b.derived_from is None)
    lines += ["![the box's limits within the declared ranges](box.png)", "",
              "## Peeling trajectory", "",
              f"Boxes 0 to {last} are the steps of PRIM's peeling (and pasting): density "
              f"rises as coverage falls."
              + (f" Boxes after {last} are made from one of them by dropping a limit that "
                 f"may be chance (diamonds in the figure)." if candidates else "")
              + " The ring marks the box reported.", "",
              "![coverage and density along the peeling trajectory](peeling.png)", "",
              "| box | coverage | density | mass | runs | cases | restricted | |",
              "| --- | --- | --- | --- | --- | --- | --- | --- |"]
    for b in d.trajectory:
        note = ("reported" if b.step == d.chosen else "picked by the rule"
                if b.step == d.picked else "")
        if b.derived_from is not None:
            verdict = "adopted" if b.adopted else "not adopted: the limit is kept"
            note = f"box {b.derived_from} without the limit on {md_code(b.dropped)}; " \
                   f"{verdict}" + (f"; {note}" if note and b.adopted else "")
        lines.append(f"| {b.step} | {b.coverage:.3f} | {b.density:.3f} | {b.mass:.3f} | "
                     f"{b.runs} | {b.cases} | {len(b.limits)} | {note} |")
    lines += ["", "## Which parameters matter", "",
              f"Feature scores: the impurity importance of {TREES} extra trees classifying "
              f"the runs by the condition (random_state {d.score_seed}, drawn from the "
              f"sweep's seed); they sum to 1."
              + (f" Out-of-bag accuracy {d.oob_accuracy:.3f} (always guessing the commoner "
                 f"outcome: {max(share, 1 - share):.3f})." if d.oob_accuracy is not None
                 else ""), "",
              "![feature scores](feature_scores.png)", "", "| parameter | score |",
              "| --- | --- |"]
    lines += [f"| {md_code(p)} | {s:.3f} |" for p, s in d.scores]
    lines += ["", "## Method", "",
              f"{md(d.library)}. PRIM with peel alpha {PEEL_ALPHA}, paste alpha "
              f"{PASTE_ALPHA}, minimum mass {MASS_MIN}, lenient objective; a limit that may "
              f"be chance is dropped if that loses less than {MAX_DENSITY_LOSS:.0%} of the "
              f"density. Condition as given: {md_code(d.where)}.", ""]
    return "\n".join(lines)


def _declared(limit: Limit) -> str:
    """The parameter's values as the experiment declares them: its categories, its
    values (a few listed, many spanned) or its interval."""
    if limit.categories is not None:
        return "{" + ", ".join(str(v) for v in limit.declared_values or limit.categories) + "}"
    if limit.declared_values is not None:
        values = limit.declared_values
        if len(values) <= FEW_VALUES:
            return ", ".join(_number(v) for v in values)
        return f"{len(values)} values, {_number(values[0])} to {_number(values[-1])}"
    if limit.declared_low is None:
        return f"{_number(limit.sampled_low)} to {_number(limit.sampled_high)} (sampled)"
    return f"{_number(limit.declared_low)} to {_number(limit.declared_high)}"


def _quasi_p_words(limit: Limit) -> str:
    """``quasi-p 0.18 at its lower limit``: the quasi-p values of a limit, in words."""
    if limit.kept is not None:
        return f"quasi-p {_p(limit.qp_low)}"
    sides = [f"{_p(q)} at its {side} limit" for side, q in (("lower", limit.qp_low),
                                                          ("upper", limit.qp_high))
             if q is not None]
    return "quasi-p " + " and ".join(sides)


def _quasi_p(limit: Limit) -> str:
    if limit.kept is not None:
        return _p(limit.qp_low)
    return ", ".join(f"{side} {_p(q)}" for side, q in (("low", limit.qp_low),
                                                     ("high", limit.qp_high)) if q is not None)


def _p(value: float | None) -> str:
    return "" if value is None else f"{value:.2g}"


# ---------------------------------------------------------------------- figures
def _save(fig, path: Path) -> None:
    try:
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    finally:
        plt.close(fig)


def _peeling_plot(d: Discovery, path: Path) -> None:
    peeled = [b for b in d.trajectory if b.derived_from is None]
    derived = [b for b in d.trajectory if b.derived_from is not None]
    top = max(len(b.limits) for b in d.trajectory) or 1
    style = {"cmap": plt.get_cmap("viridis", top + 1), "vmin": -0.5, "vmax": top + 0.5,
             "zorder": 3}
    fig, ax = plt.subplots(figsize=(7, 4.8))
    ax.plot([b.coverage for b in peeled], [b.density for b in peeled], color="0.75",
            linewidth=1, zorder=2)
    points = ax.scatter([b.coverage for b in peeled], [b.density for b in peeled], s=28,
                        c=[len(b.limits) for b in peeled], **style)
    if derived:
        ax.scatter([b.coverage for b in derived], [b.density for b in derived], s=60,
                   marker="D", c=[len(b.limits) for b in derived], edgecolors="k",
                   label="without a limit that may be chance", **style)
    fig.colorbar(points, ax=ax, ticks=range(top + 1), label="restricted parameters")
    box = d.box
    ax.scatter([box.coverage], [box.density], s=260, facecolors="none", edgecolors="red",
               linewidths=2, zorder=4, label=plain(_cut(f"reported: {d.origin()}", 70)))
    ax.axvline(d.min_coverage, color="red", linestyle=":", linewidth=1,
               label=f"coverage {d.min_coverage:.0%}")
    ax.axhline(d.cases / d.runs, color="0.4", linestyle="--", linewidth=1,
               label="density of all runs")
    ax.set(xlabel="coverage (share of the runs where it holds, in the box)",
           ylabel="density (share of the box's runs where it holds)",
           xlim=(-0.02, 1.02), ylim=(-0.02, 1.02))
    ax.set_title(plain(_cut(f"Peeling trajectory: {d.condition}", 90)), fontsize="small")
    ax.legend(fontsize="small", loc="lower left")
    _save(fig, path)


def _box_plot(d: Discovery, path: Path) -> None:
    """A row per restricted parameter, on its declared range (left end: the lowest value
    the experiment declares, right end: the highest) with the box's part in blue; a set
    of categories as a cell per declared category, those the box keeps in blue. The
    range's ends are written under the bar, clear of the parameter's name on the left."""
    limits = d.box.limits
    fig, ax = plt.subplots(figsize=(7.5, 1.3 + 0.95 * max(1, len(limits))))
    if not limits:
        ax.text(0.5, 0.5, "the chosen box restricts no parameter", ha="center",
                va="center")
    for row, limit in enumerate(reversed(limits)):
        if limit.kept is not None:
            names = limit.declared_values or limit.categories
            width = 1 / len(names)
            for k, name in enumerate(names):
                inside = name in limit.kept
                ax.barh(row, width, left=k * width, height=0.5, edgecolor="0.45",
                        color="tab:blue" if inside else "0.88", alpha=0.85 if inside else 1)
                ax.text((k + 0.5) * width, row, plain(_cut(str(name), int(70 * width))),
                        ha="center", va="center", fontsize="x-small",
                        color="white" if inside else "0.25")
            note = (f"kept {len(limit.kept)} of {len(names)} categories: "
                    f"{', '.join(limit.kept)}")
        else:
            first = min(v for v in (limit.declared_low, limit.sampled_low) if v is not None)
            last = max(v for v in (limit.declared_high, limit.sampled_high) if v is not None)
            span = (last - first) or 1.0
            low = limit.low if limit.low is not None else first
            high = limit.high if limit.high is not None else last
            start, end = (low - first) / span, (high - first) / span
            ax.barh(row, 1, left=0, height=0.5, color="0.88", edgecolor="0.6")
            ax.barh(row, end - start, left=start, height=0.5, color="tab:blue", alpha=0.8)
            for value in limit.declared_values or ():
                at = (value - first) / span  # a grid's values, as ticks on the bar
                ax.plot([at, at], [row - 0.25, row - 0.32], color="0.3", linewidth=0.8)
            for at, value, align in ((0, first, "left"), (1, last, "right")):
                ax.text(at, row - 0.33, _number(value), ha=align, va="top",
                        fontsize="x-small", color="0.3")
            note = limit.text()
        chance = ", may be chance" if limit.may_be_chance() else ""
        ax.text(0.5, row + 0.3, plain(_cut(f"{note}   (quasi-p {_quasi_p(limit)}{chance})",
                                           95)),
                ha="center", va="bottom", fontsize="x-small")
    ax.set_xticks([])
    for spine in ax.spines.values():
        spine.set_visible(False)
    if limits:
        ax.set_yticks(range(len(limits)),
                      [plain(_cut(lim.parameter, 40)) for lim in reversed(limits)],
                      fontsize="small")
        ax.tick_params(axis="y", length=0, pad=8)
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.75, len(limits) - 0.2)
    else:
        ax.set_yticks([])
    box = d.box
    ax.set_title(plain(_cut(f"The box ({d.origin()})", 95)) + "\n" +
                 f"coverage {box.coverage:.2f}, density {box.density:.2f}, mass "
                 f"{box.mass:.2f}; bars span the declared ranges", fontsize="small")
    _save(fig, path)


def _scores_plot(d: Discovery, path: Path) -> None:
    names = [plain(_cut(p, 40)) for p, _ in d.scores]
    values = [s for _, s in d.scores]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.4 * len(names)))
    at = np.arange(len(names))[::-1]
    ax.barh(at, values, color="tab:blue")
    ax.set_yticks(at, names, fontsize="small")
    ax.set_xlabel("feature score (extra trees; the scores sum to 1)")
    ax.set_title(plain(_cut(f"Which parameters tell whether {d.condition}", 90)),
                 fontsize="small")
    _save(fig, path)


def _cut(text: str, chars: int) -> str:
    return text if len(text) <= chars else f"{text[:chars - 3]}..."


__all__ = ["DEFAULT_MIN_COVERAGE", "MIN_RUNS", "Box", "Discovery", "DiscoveryError", "Limit",
           "WhereError", "choose", "discover", "discovery_folder", "write_discovery"]
