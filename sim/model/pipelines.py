"""Force generation: how training turns recruits into soldiers.

The training level is a saturating function of training days: each extra day closes a
constant share of the remaining gap to full training, starting from the contingent's
base level (what a recruit brings: prior service, education, fitness).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


def training_level(training_days, base_level, time_constant_days: float):
    """Training level in [0, 1] after ``training_days`` of training.

    ``level = base + (1 - base) * (1 - exp(-training_days / time_constant_days))``

    Parameters
    ----------
    training_days : float or array, days of training received (>= 0).
    base_level : float or array, level of an untrained recruit, in [0, 1].
    time_constant_days : days that close 63% of the gap to full training (> 0).

    >>> round(float(training_level(0, 0.2, 90)), 3)
    0.2
    >>> round(float(training_level(90, 0.2, 90)), 3)
    0.706
    >>> float(training_level(1e6, 0.2, 90))
    1.0
    """
    days = np.asarray(training_days, dtype=float)
    base = np.asarray(base_level, dtype=float)
    return base + (1.0 - base) * -np.expm1(-days / time_constant_days)


def recruitment_rate(config, day: int, pool_left: float, pool_at_start: float,
                     shortfall: float = 0.0) -> float:
    """Recruits per day on ``day`` for a contingent's :class:`sim.config.ContingentConfig`.

    * constant: ``recruits_per_day``;
    * depleting: ``recruits_per_day * (pool_left / pool_at_start) ** depletion_exponent``,
      so recruiting slows as the eligible population is used up;
    * schedule: the rate of the last step whose day has come (0 before the first);
    * replacement: ``min(recruits_per_day, shortfall)``, where ``shortfall`` is what the
      contingent lacks of its starting strength, so faster losses draw recruits faster;

    each times :func:`bonus_factor`, the recruiting lever (a signing bonus).

    >>> from sim.config import ContingentConfig
    >>> recruitment_rate(ContingentConfig(recruitment="depleting", recruits_per_day=10.0,
    ...                                  pool=100), 5, 25.0, 100.0)
    2.5
    """
    return _base_rate(config, day, pool_left, pool_at_start, shortfall) * bonus_factor(config, day)


def _base_rate(config, day: int, pool_left: float, pool_at_start: float,
               shortfall: float) -> float:
    if config.recruitment == "constant":
        return config.recruits_per_day
    if config.recruitment == "replacement":
        return min(config.recruits_per_day, max(0.0, shortfall))
    if config.recruitment == "depleting":
        if pool_at_start <= 0:
            return 0.0
        return config.recruits_per_day * (pool_left / pool_at_start) ** config.depletion_exponent
    return _last_step(config.schedule, day, "recruits_per_day", 0.0)


def bonus_factor(config, day: int) -> float:
    """The recruiting lever's effect on ``day``: ``multiple ** bonus_elasticity`` of the
    last bonus step begun by then (1 before the first, or with elasticity 0).

    >>> from sim.config import BonusStep, ContingentConfig
    >>> c = ContingentConfig(bonus=[BonusStep(day=5, multiple=4.0)], bonus_elasticity=0.5)
    >>> bonus_factor(c, 4), bonus_factor(c, 5)
    (1.0, 2.0)
    """
    if config.bonus_elasticity == 0.0:
        return 1.0
    return _last_step(config.bonus, day, "multiple", 1.0) ** config.bonus_elasticity


def _last_step(steps, day: int, field: str, before: float) -> float:
    """The ``field`` of the last of ``steps`` begun by ``day`` (of two on one day, the
    later listed), else ``before``."""
    value = before
    for step in sorted(steps, key=lambda s: s.day):
        if step.day <= day:
            value = getattr(step, field)
    return value


@dataclass(frozen=True)
class Cohort:
    """Recruits of one contingent and day in training."""

    graduation_day: int
    persons: int
    training_days: float  # the training they get: full, or shortened


class Pipelines:
    """Recruit pools and training pipelines of all contingents.

    Recruits leave the pool each day (a whole number: fractional rates accumulate as
    credit) and enter a cohort that graduates ``training_days`` later with that much
    training. Contingents without a :class:`sim.config.ContingentConfig` have an empty
    pool and never recruit.
    """

    def __init__(self, configs: list, training_time_constant_days: float):
        self.configs = configs
        n = len(configs)
        self.pool = np.array([c.pool if c else 0 for c in configs], dtype=np.int64)
        self.pool_at_start = self.pool.copy()
        self.credit = np.zeros(n)
        self.recruited_total = np.zeros(n, dtype=np.int64)
        self.graduated_total = np.zeros(n, dtype=np.int64)
        self.time_constant_days = training_time_constant_days
        self.cohorts: list[list[Cohort]] = [[] for _ in range(n)]  # per contingent

    @property
    def in_training(self) -> np.ndarray:
        """Persons in training, per contingent."""
        return np.array([sum(c.persons for c in cohorts) for cohorts in self.cohorts],
                        dtype=np.int64)

    def recruit(self, day: int, line_strength=None, shortfall=None,
                active=None) -> np.ndarray:
        """Draw today's recruits from the pools into training; returns them per contingent.

        ``line_strength`` (share of its units' starting strength in the line) decides
        whether training is shortened; ``shortfall`` (persons short of starting strength)
        drives replacement recruitment; contingents not ``active`` do not recruit. The
        configurations' days are day numbers here (``Scenario.day_of`` resolves dates).
        """
        n = len(self.configs)
        line_strength = np.ones(n) if line_strength is None else line_strength
        shortfall = np.zeros(n) if shortfall is None else shortfall
        recruits = np.zeros(n, dtype=np.int64)
        for k, config in enumerate(self.configs):
            if config is None or self.pool[k] == 0 or (active is not None and not active[k]):
                continue
            self.credit[k] += recruitment_rate(config, day, float(self.pool[k]),
                                               float(self.pool_at_start[k]),
                                               float(shortfall[k]))
            whole = int(self.credit[k])
            self.credit[k] -= whole
            whole += sum(t.persons for t in config.tranches if t.day == day)
            recruits[k] = min(whole, int(self.pool[k]))
            if recruits[k]:
                self.pool[k] -= recruits[k]
                self.recruited_total[k] += recruits[k]
                length = config.training_days
                if (config.shortened_training_days is not None
                        and line_strength[k] < config.shorten_below_strength):
                    length = config.shortened_training_days
                self.cohorts[k].append(Cohort(day + math.ceil(length), int(recruits[k]), length))
        return recruits

    def reinforce(self, day: int, active=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Trained groups arriving today (``reinforcements``), drawn from the pools, as
        many as they still hold: persons, their training days summed and their training
        levels summed, per contingent. They count as recruited and graduated today."""
        n = len(self.configs)
        persons, days_sum, level_sum = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
        for k, config in enumerate(self.configs):
            if config is None or (active is not None and not active[k]):
                continue
            for group in config.reinforcements:
                arriving = min(group.persons, int(self.pool[k])) if group.day == day else 0
                if arriving == 0:
                    continue
                base = (config.base_training_level if group.base_training_level is None
                        else group.base_training_level)
                self.pool[k] -= arriving
                persons[k] += arriving
                days_sum[k] += arriving * group.training_days
                level_sum[k] += arriving * float(training_level(
                    group.training_days, base, self.time_constant_days))
            self.recruited_total[k] += persons[k]
            self.graduated_total[k] += persons[k]
        return persons, days_sum, level_sum

    def graduate(self, day: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cohorts that finish training today: persons, their training days summed and
        their training levels summed, per contingent."""
        n = len(self.configs)
        persons, days_sum, level_sum = np.zeros(n, dtype=np.int64), np.zeros(n), np.zeros(n)
        for k, cohorts in enumerate(self.cohorts):
            due = [c for c in cohorts if c.graduation_day <= day]
            if not due:
                continue
            self.cohorts[k] = [c for c in cohorts if c.graduation_day > day]
            config = self.configs[k]
            for cohort in due:
                persons[k] += cohort.persons
                days_sum[k] += cohort.persons * cohort.training_days
                level_sum[k] += cohort.persons * float(training_level(
                    cohort.training_days, config.base_training_level, self.time_constant_days))
            self.graduated_total[k] += persons[k]
        return persons, days_sum, level_sum


def stock_and_flow(days, line0: float, daily_loss_fraction: float, recruits_per_day: int,
                   training_days: int, pool: int):
    """Expected line strength and pool by day when a fixed share of the line is lost
    each day and a constant recruitment feeds it through training.

    Each day ``t >= 1``: ``recruits_per_day`` leave the pool (while it lasts, so the
    last recruits come on day ``D = pool / recruits_per_day``); recruits of day ``s``
    join the line on day ``s + training_days``; then a share ``f`` of the line is lost.
    With ``q = 1 - f`` the line is
    ``L(t) = q^t L0 + r * sum_{s=a}^{b} q^(t-s+1)``, ``a = T + 1``, ``b = min(t, D + T)``,
    a geometric sum in closed form; the pool is ``max(0, pool - r t)``.

    Returns (line strength, pool left, pool exhaustion day).

    >>> line, left, day = stock_and_flow([0, 1, 2], 100, 0.5, 10, 0, 20)
    >>> line.tolist(), left.tolist(), day
    ([100.0, 55.0, 32.5], [20, 10, 0], 2)
    """
    if pool % recruits_per_day:
        raise ValueError("pool must be a whole number of days' recruits")
    t = np.asarray(days, dtype=float)
    q = 1.0 - daily_loss_fraction
    exhausted_day = pool // recruits_per_day
    first, last = training_days + 1, np.minimum(t, exhausted_day + training_days)
    count = np.maximum(0.0, last - first + 1)
    inflow = np.where(count > 0,
                      recruits_per_day * q ** (t - last + 1) * (1 - q**count) / (1 - q), 0.0)
    line = q**t * line0 + inflow
    left = np.maximum(0, pool - recruits_per_day * t.astype(np.int64))
    return line, left, int(exhausted_day)
