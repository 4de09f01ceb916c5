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
from numba import njit, vectorize

# Causes of casualties, in the column order of the hazard matrix.
CAUSES = ("aimed", "area", "mines", "fixed_rate")
AIMED, AREA, MINES, FIXED_RATE = range(len(CAUSES))


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
    stacked = np.ascontiguousarray(grid, dtype=float).reshape((-1, *grid.shape[-2:]))
    return _box_sums(stacked, radius_cells).reshape(grid.shape)


@njit(cache=True)
def _box_sums(grids, radius_cells):
    """Window sums of each (x, row) grid: a running mean along x, then along rows, as
    scipy.ndimage.uniform_filter1d computes it (mode constant, zero outside): a running
    sum of the line, each output that sum divided by the window's size; then times
    size^2. The running sums leave rounding noise where the true sum is zero: at most a
    few thousand roundings of the grid's largest value, far below the cut used here
    (which scales with the grid, so that small but real sums stay). Doing it here, not
    in scipy, keeps every seed's numbers whatever scipy's version."""
    size = 2 * radius_cells + 1
    count, width, rows = grids.shape
    along_x = np.empty_like(grids)
    out = np.empty_like(grids)
    # The running sums of a line are kept side by side for all the lines of a grid (rows
    # along x, then lanes along rows), so that each step works along contiguous memory;
    # each line's sum takes the same additions in the same order as alone. The running
    # sums are divided by the window's size afterwards, in loops of their own, which
    # the compiler vectorises: the same divisions, a fraction of the time.
    along_rows = np.empty(rows)
    along_lanes = np.empty(width)
    for s in range(count):
        sums_x, sums = along_x[s].reshape(width * rows), out[s].reshape(width * rows)
        along_rows[:] = 0.0
        for i in range(-radius_cells, radius_cells + 1):
            inside = 0 <= i < width
            for r in range(rows):
                along_rows[r] += grids[s, i, r] if inside else 0.0
        for r in range(rows):
            along_x[s, 0, r] = along_rows[r]
        for i in range(1, width):
            has_entering, has_leaving = i + radius_cells < width, i - 1 - radius_cells >= 0
            for r in range(rows):
                entering = grids[s, i + radius_cells, r] if has_entering else 0.0
                leaving = grids[s, i - 1 - radius_cells, r] if has_leaving else 0.0
                along_rows[r] += entering - leaving
                along_x[s, i, r] = along_rows[r]
        for k in range(sums_x.size):
            sums_x[k] = sums_x[k] / size
        along_lanes[:] = 0.0
        for r in range(-radius_cells, radius_cells + 1):
            inside = 0 <= r < rows
            for i in range(width):
                along_lanes[i] += along_x[s, i, r] if inside else 0.0
        for i in range(width):
            out[s, i, 0] = along_lanes[i]
        for r in range(1, rows):
            has_entering, has_leaving = r + radius_cells < rows, r - 1 - radius_cells >= 0
            for i in range(width):
                entering = along_x[s, i, r + radius_cells] if has_entering else 0.0
                leaving = along_x[s, i, r - 1 - radius_cells] if has_leaving else 0.0
                along_lanes[i] += entering - leaving
                out[s, i, r] = along_lanes[i]
        noise = 1e-10 * size**2 * grids[s].max()
        for k in range(sums.size):
            value = sums[k] / size * size**2
            sums[k] = value if value > noise else 0.0
    return out


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
    if radius_cells < max(present.shape[-2:]) - 1:
        return _aimed_fire_in_windows(np.ascontiguousarray(present, dtype=float),
                                      np.ascontiguousarray(fire, dtype=float), radius_cells)
    # Every window covers the whole grid: one total per side.
    in_range = np.rint(window_sum(present, radius_cells))
    per_weight = np.divide(fire[::-1], in_range, out=np.zeros_like(in_range),
                           where=in_range > 0)
    return window_sum(per_weight, radius_cells), in_range


@njit(cache=True)
def _aimed_fire_in_windows(present, fire, radius_cells):
    """:func:`aimed_fire` where windows are smaller than the grid."""
    # Whole persons: rounding removes the running means' noise, so that comparisons of
    # personnel in range (an elastic defence's ratio) are exact.
    in_range = np.rint(_box_sums(present, radius_cells))
    per_weight = np.zeros_like(in_range)
    for s in range(2):
        for i in range(in_range.shape[1]):
            for r in range(in_range.shape[2]):
                # Side s's targets are hit by the other side's fire.
                if in_range[s, i, r] > 0:
                    per_weight[s, i, r] = fire[1 - s, i, r] / in_range[s, i, r]
    return _box_sums(per_weight, radius_cells), in_range


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
    from the compiled sub-step (:mod:`sim.model.kernels`).

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
    return draw_by_cause(rng, personnel, casualty_probability(hazards), hazards)


def casualty_probability(hazards: np.ndarray) -> np.ndarray:
    """Each person's chance of becoming a casualty over the sub-step (see
    :func:`draw_casualties`). numpy's exp, kept so that every seed keeps its numbers.

    >>> casualty_probability(np.array([[0.5, 0.0], [0.0, np.log(2.0)]])).tolist()
    [0.5, 0.5]
    """
    exponent, keep = probability_terms(hazards)
    return 1.0 - keep * np.exp(exponent)


@njit(cache=True)
def probability_terms(hazards):
    """The terms of :func:`casualty_probability` around numpy's exp: ``-(h_1 + h_2 ...)``,
    added column by column as ``.sum(axis=1)`` would not (it pairs them), and the share
    left by aimed fire, ``1 - min(1, h_0)``. The compiled sub-step takes them, and the
    caller applies numpy's exp between (:meth:`sim.model.combat.Combat.substep`)."""
    n, causes = hazards.shape
    exponent = np.empty(n)
    keep = np.empty(n)
    for i in range(n):
        other = hazards[i, 1]
        for k in range(2, causes):
            other += hazards[i, k]
        exponent[i] = -other
        keep[i] = 1.0 - min(1.0, hazards[i, 0])
    return exponent, keep


# A little above the relative rounding of a double (2^-52), for the margin below.
_EPSILON = 2.0**-50


@njit(cache=True)
def binomial(rng, n, p):
    """A binomial draw of ``n`` trials of chance ``p`` from numba's Generator ``rng``:
    numpy's number, from the same random numbers.

    numba's ``Generator.binomial`` ports numpy's algorithm, which for ``n p <= 30`` and
    ``p <= 1/2`` (nearly every draw here: a unit's casualties in a sub-step) is
    inversion: X = 0 if the first uniform U is at most ``qn = (1 - p)^n``, computed as
    ``exp(n log(1 - p))`` before U is drawn. That log and exp are most of a draw's cost.
    But ``qn >= 1 - n p`` (Bernoulli's inequality), so a U below ``1 - n p``, less a
    margin far above the roundings of both sides (a few in 1e16 of qn, and of ``1 - p``
    n times), gives X = 0 without them; any other U goes on through numpy's algorithm,
    copied here from numba's port (``random_binomial_inversion``) with U already drawn.
    The other cases are numba's own. Either way the same uniforms are used, in the same
    order, and give the same X."""
    if n == 0 or p == 0.0:
        return np.int64(0)
    if not (p <= 0.5 and p * n <= 30.0):
        return rng.binomial(n, p)
    U = rng.random()
    if U < 1.0 - n * p * (1.0 + 1e-9) - (1e-9 + n * _EPSILON):
        return np.int64(0)
    q = 1.0 - p
    qn = np.exp(n * np.log(q))
    _np = n * p
    bound = min(n, _np + 10.0 * np.sqrt(_np * q + 1))
    X = 0
    px = qn
    while U > px:
        X = X + 1
        if X > bound:
            X = 0
            px = qn
            U = rng.random()
        else:
            U -= px
            px = ((n - X + 1) * p * px) / (X * q)
    return np.int64(X)


@njit(cache=True)
def draw_by_cause(rng, personnel, probability, hazards):
    """The draws of :func:`draw_casualties` given each person's ``probability``: who
    is hit, then their split between the causes that acted, cause by cause, in proportion
    to what is left of their hazards. Binomials in this order, so that a seed gives the
    numbers of numpy's vectorised draws; callable from :mod:`sim.model.kernels`."""
    n, causes = hazards.shape
    casualties = np.empty(n, dtype=np.int64)
    hit_count = 0
    for i in range(n):
        casualties[i] = binomial(rng, personnel[i], probability[i])
        hit_count += casualties[i] > 0
    hit = np.empty(hit_count, dtype=np.int64)
    j = 0
    for i in range(n):
        if casualties[i] > 0:
            hit[j] = i
            j += 1
    by_cause = np.zeros((hit_count, causes), dtype=np.int64)
    if hit_count == 0:
        return hit, by_cause
    # Only the causes that acted on someone hit share the casualties.
    acted = np.zeros(causes, dtype=np.bool_)
    remaining = np.empty(hit_count, dtype=np.int64)
    rest = np.zeros(hit_count)
    for j in range(hit_count):
        remaining[j] = casualties[hit[j]]
        for k in range(causes):
            acted[k] |= hazards[hit[j], k] != 0
            rest[j] += hazards[hit[j], k]
    last = causes - 1
    while not acted[last]:
        last -= 1
    for k in range(last):
        if not acted[k]:
            continue
        for j in range(hit_count):
            share = hazards[hit[j], k] / rest[j] if rest[j] > 0 else 0.0
            by_cause[j, k] = binomial(rng, remaining[j], min(max(share, 0.0), 1.0))
            remaining[j] -= by_cause[j, k]
            rest[j] -= hazards[hit[j], k]
    for j in range(hit_count):
        by_cause[j, last] = remaining[j]
    return hit, by_cause


@njit(cache=True)
def split_wounded(rng, casualties, killed_fraction, return_fraction):
    """Split casualties into killed, wounded who will return, and wounded permanently lost
    (binomials: first who is killed, then who of the wounded returns).

    >>> rng = np.random.default_rng(1)
    >>> k, r, d = split_wounded(rng, np.array([40]), np.array([0.25]), np.array([0.5]))
    >>> int(k[0] + r[0] + d[0])
    40
    """
    killed = np.empty(casualties.size, dtype=np.int64)
    for i in range(casualties.size):
        killed[i] = binomial(rng, casualties[i], killed_fraction[i])
    wounded = casualties - killed
    returning = np.empty(casualties.size, dtype=np.int64)
    for i in range(casualties.size):
        returning[i] = binomial(rng, wounded[i], return_fraction[i])
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
