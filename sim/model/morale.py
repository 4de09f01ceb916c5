"""Morale submodel: losses erode a unit's morale; below its tactic's threshold it breaks.

Morale lies in [0, 1]. Losing a share ``f`` of the unit's personnel in one sub-step
costs ``sensitivity * f`` morale; a day without casualties gives back a fixed amount,
up to the unit's starting morale. A human wave breaks at a lower morale than an
infiltration group (it is driven forward), which is a parameter of the tactic.
"""

from __future__ import annotations

import numpy as np
from numba import vectorize


@vectorize(cache=True)
def morale_after_losses(morale, casualties, personnel_before, sensitivity):
    """Morale after a sub-step's casualties (a ufunc: arrays or numbers, and callable
    from the compiled sub-step, :mod:`sim.model.kernels`).

    >>> morale_after_losses(np.array([1.0, 0.5]), np.array([10, 0]), np.array([100, 0]),
    ...                     2.0).tolist()
    [0.8, 0.5]
    """
    lost_share = casualties / personnel_before if personnel_before > 0 else 0.0
    return max(0.0, morale - sensitivity * lost_share)


@vectorize(cache=True)
def breaks(morale, break_morale):
    """Whether a unit breaks: its morale fell below its tactic's threshold (a ufunc).

    >>> breaks(np.array([0.1, 0.5]), np.array([0.15, 0.15])).tolist()
    [True, False]
    """
    return morale < break_morale


def recover(morale: np.ndarray, quiet_day: np.ndarray, recovery_per_day: float,
            ceiling: np.ndarray) -> np.ndarray:
    """Morale after a day: units without casualties regain some, up to their ceiling.

    >>> recover(np.array([0.5, 0.5]), np.array([True, False]), 0.1, np.array([1.0, 1.0])).tolist()
    [0.6, 0.5]
    """
    return np.where(quiet_day, np.minimum(ceiling, morale + recovery_per_day), morale)
