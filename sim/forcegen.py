"""Force generation: how training turns recruits into soldiers.

The training level is a saturating function of training days: each extra day closes a
constant share of the remaining gap to full training, starting from the contingent's
base level (what a recruit brings: prior service, education, fitness).
"""

from __future__ import annotations

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
