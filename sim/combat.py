"""Combat submodel: aimed fire, area fire, mines and the casualty draw.

Every function works on numpy arrays over units or over grid cells, so one combat
sub-step costs time in proportion to the number of units plus the number of cells,
never to the number of shooter-target pairs. The equations are in ``docs/ODD.md``
(section 7.3); the notation below follows it.

Aimed fire (square law). A shooter with a target in range fires at one of the
enemies within range of its cell, chosen with probability proportional to their
personnel. With ``F(s)`` the kills a cell's shooters would make in a sub-step and
``W(t)`` the enemy personnel in cell ``t``, the fire one enemy in cell ``t`` receives
is ``G(t) = sum_{s in window(t)} F(s) / T(s)``, where ``T(s)`` is the enemy personnel
within the window of ``s``. Two box sums give ``G`` for every cell at once.
"""

from __future__ import annotations

import numpy as np
from numba import vectorize
from scipy.ndimage import uniform_filter1d

# Causes of casualties, in the column order of the hazard matrix.
CAUSES = ("aimed", "area", "mines", "fixed_rate")


def window_sum(grid: np.ndarray, radius_cells: int) -> np.ndarray:
    """Sum of ``grid`` over the (2r+1) x (2r+1) window around each cell of its last two
    axes, zero outside; leading axes (one grid per side) are summed separately.

    >>> g = np.zeros((3, 4)); g[0, 0] = 2.0
    >>> window_sum(g, 1).round(12).tolist()
    [[2.0, 2.0, 0.0, 0.0], [2.0, 2.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]]
    >>> window_sum(np.stack([g, 2 * g]), 1)[:, 1, 1].tolist()
    [2.0, 4.0]
    """
    if radius_cells >= max(grid.shape[-2:]) - 1:
        # Every window covers the whole grid (a small sector, or docking).
        totals = grid.sum(axis=(-2, -1), keepdims=True, dtype=float)
        return np.broadcast_to(totals, grid.shape).copy()
    size = 2 * radius_cells + 1
    summed = uniform_filter1d(grid.astype(float), size, axis=-2, mode="constant", cval=0.0)
    summed = uniform_filter1d(summed, size, axis=-1, mode="constant", cval=0.0) * size**2
    # The filter's running means leave rounding noise where the true sum is zero: at
    # most a few thousand roundings of the largest value, far below this bound (which
    # scales with the grid, so that small but real sums stay).
    noise = 1e-10 * size**2 * grid.max(axis=(-2, -1), keepdims=True)
    summed[summed <= noise] = 0.0
    return summed


def aimed_fire(present: np.ndarray, fire: np.ndarray,
               radius_cells: int) -> tuple[np.ndarray, np.ndarray]:
    """Expected kills per person in each cell from the enemy's aimed fire, before
    protection, for both sides at once.

    Parameters
    ----------
    present : (2, W, D) array, personnel of each side in each cell (persons).
    fire : (2, W, D) array, kills each side's shooters in each cell would make this
        sub-step (persons).
    radius_cells : range of aimed fire (cells).

    Returns
    -------
    per_target : (2, W, D) array ``G``, kills per person of that side in that cell (-).
    in_range : (2, W, D) array ``T``, personnel of that side within range of each cell.

    All the fire of shooters with targets in range lands: the kills sum to the fire.

    >>> present = np.array([[[0.0, 2.0, 4.0]], [[0.0, 0.0, 0.0]]])
    >>> fire = np.array([[[0.0, 0.0, 0.0]], [[3.0, 0.0, 0.0]]])
    >>> g, t = aimed_fire(present, fire, 1)
    >>> float((g * present).sum()), t[0].tolist()
    (3.0, [[2.0, 6.0, 6.0]])
    """
    # Whole persons: rounding removes the running means' noise, so that comparisons of
    # personnel in range (an elastic defence's ratio) are exact.
    in_range = np.rint(window_sum(present, radius_cells))
    # Side s's targets are hit by the other side's fire: fire[::-1].
    per_weight = np.divide(fire[::-1], in_range, out=np.zeros_like(in_range),
                           where=in_range > 0)
    return window_sum(per_weight, radius_cells), in_range


def area_fire_hazard(strikes: float, lethal_area_m2: float, footprint_m2: float) -> float:
    """Per-person casualty hazard from area fire spread over the enemy's footprint.

    Strikes land on the ground the enemy formations cover (``footprint_m2``, the sum of
    their footprints); a strike on a formation of density ``rho`` causes
    ``lethal_area * rho`` casualties, so each person's hazard is
    ``strikes * lethal_area / footprint``. Footprints are set at full strength, so
    losses thin a formation without shrinking it: the Lanchester linear law.
    Denser formations have smaller footprints and so a higher hazard per person.

    >>> area_fire_hazard(10.0, 50.0, 1000.0)
    0.5
    """
    if footprint_m2 <= 0.0:
        return 0.0
    return strikes * lethal_area_m2 / footprint_m2


@vectorize(cache=True)
def mine_hazard(mines_per_m2, distance_m, sweep_width_m, mine_exposure):
    """Per-person mine hazard of walking ``distance_m`` across ground with a mine density.

    Each walker on an own path sets off the mines in a strip ``sweep_width_m`` wide;
    each mine set off causes one casualty. A ufunc: arrays or numbers, and callable
    from the compiled sub-step (:mod:`sim.kernels`).

    >>> mine_hazard(np.array([0.004]), np.array([50.0]), 1.0, np.array([0.5])).tolist()
    [0.1]
    """
    return mines_per_m2 * sweep_width_m * distance_m * mine_exposure


def draw_casualties(rng: np.random.Generator, personnel: np.ndarray,
                    hazards: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Draw casualties per unit and cause from per-person hazards over one sub-step.

    Column 0 is aimed fire, whose shooters make a set number of kills and switch to
    survivors, so a person's chance is ``min(1, h)`` (kills are counted per shot, as in
    the square law). The other columns are risks each person runs whatever happens to
    the others (area fire, mines), so they combine as ``exp(-h)`` survival. A person is
    a casualty with probability ``1 - (1 - min(1, h_0)) * exp(-h_1 - h_2 ...)``; a unit
    never loses more than it has or a negative number. Casualties are split between
    causes in proportion to their hazards (a multinomial, drawn as binomials).

    Parameters
    ----------
    personnel : (n,) int array, personnel exposed.
    hazards : (n, k) array, per-person hazard of each cause over the sub-step (>= 0).

    Returns
    -------
    hit : int array, the units (rows) that lost someone, in order.
    by_cause : (len(hit), k) int array, their casualties by cause.

    >>> rng = np.random.default_rng(0)
    >>> hit, by_cause = draw_casualties(rng, np.array([100, 0, 5]),
    ...                                 np.array([[1.0, 1.0], [5.0, 0.0], [0.0, 0.0]]))
    >>> hit.tolist(), by_cause.sum(axis=1).tolist()
    ([0], [100])
    """
    # Added column by column: as fast as it gets, and the same sums as .sum(axis=1).
    other = hazards[:, 1].copy()
    for k in range(2, hazards.shape[1]):
        other += hazards[:, k]
    survival = (1.0 - np.minimum(1.0, hazards[:, 0])) * np.exp(-other)
    casualties = rng.binomial(personnel, 1.0 - survival)
    # Only units that lost someone need splitting, and only between causes that acted.
    hit = casualties.nonzero()[0]
    by_cause = np.zeros((hit.size, hazards.shape[1]), dtype=np.int64)
    if hit.size == 0:
        return hit, by_cause
    acting = hazards[hit]
    causes = acting.any(axis=0).nonzero()[0]
    remaining = casualties[hit]
    rest = acting.sum(axis=1)
    for k in causes[:-1]:
        share = np.divide(acting[:, k], rest, out=np.zeros_like(rest), where=rest > 0)
        by_cause[:, k] = rng.binomial(remaining, np.clip(share, 0.0, 1.0))
        remaining = remaining - by_cause[:, k]
        rest = rest - acting[:, k]
    by_cause[:, causes[-1]] = remaining
    return hit, by_cause


def split_wounded(rng: np.random.Generator, casualties: np.ndarray, killed_fraction: np.ndarray,
                  return_fraction: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Split casualties into killed, wounded who will return, and wounded lost for good.

    >>> rng = np.random.default_rng(1)
    >>> k, r, d = split_wounded(rng, np.array([40]), np.array([0.25]), np.array([0.5]))
    >>> int(k[0] + r[0] + d[0])
    40
    """
    killed = rng.binomial(casualties, killed_fraction)
    wounded = casualties - killed
    returning = rng.binomial(wounded, return_fraction)
    return killed, returning, wounded - returning


def skill(training_level: np.ndarray, experience: np.ndarray, training_leverage: np.ndarray,
          experience_weight: float) -> np.ndarray:
    """Skill in [0, 1]: what the tactic lets a unit make of its training and experience.

    ``skill = leverage * min(1, training_level + experience_weight * experience)``

    >>> skill(np.array([0.8, 0.8]), np.array([0.0, 0.0]), np.array([0.2, 1.0]), 0.3).tolist()
    [0.16000000000000003, 0.8]
    """
    return training_leverage * np.minimum(1.0, training_level + experience_weight * experience)


def saturating_growth(days: np.ndarray, time_constant_days: float) -> np.ndarray:
    """Share of a saturating quantity gained after ``days``: ``1 - exp(-days / tau)``.

    >>> round(float(saturating_growth(np.array(20.0), 20.0)), 4)
    0.6321
    """
    return -np.expm1(-np.asarray(days, dtype=float) / time_constant_days)
