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

import math

import numpy as np
from numba import njit, vectorize
from numba.np.numpy_support import numpy_version

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
    out = np.empty(grids.shape)
    across = np.empty((rows, width))  # the means along x, a row's lanes side by side
    for s in range(count):
        _running_means(grids[s], across, radius_cells)
        _running_means(across, out[s], radius_cells)
        # The grid's largest value, as .max() gives it (the grids hold no NaN).
        largest = grids[s, 0, 0]
        for i in range(width):
            for r in range(rows):
                largest = max(largest, grids[s, i, r])
        noise = 1e-10 * size**2 * largest
        for i in range(width):
            for r in range(rows):
                value = out[s, i, r] * size**2
                out[s, i, r] = value if value > noise else 0.0
    return out


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _running_means(lines, means, radius_cells):
    """The running means, over windows of ``2 r + 1``, along the first axis of
    ``lines`` (zero outside), written to ``means`` transposed (``means[j, i]`` for
    ``lines[i, j]``), as uniform_filter1d computes them: a running sum, less the value
    leaving and plus the one entering at each step, divided by the window's size. The
    sums of the lines are kept side by side, so that each step works along contiguous
    memory; each line's sum takes the same additions in the same order as alone."""
    size = 2 * radius_cells + 1
    length, count = lines.shape
    sums = np.zeros(count)
    for i in range(-radius_cells, radius_cells + 1):
        if 0 <= i < length:
            for j in range(count):
                sums[j] += lines[i, j]
    for j in range(count):
        means[j, 0] = sums[j] / size
    for i in range(1, length):
        has_entering, has_leaving = i + radius_cells < length, i - 1 - radius_cells >= 0
        for j in range(count):
            entering = lines[i + radius_cells, j] if has_entering else 0.0
            leaving = lines[i - 1 - radius_cells, j] if has_leaving else 0.0
            sums[j] += entering - leaving
            means[j, i] = sums[j] / size


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
    in_range = _box_sums(present, radius_cells)
    per_weight = np.empty(in_range.shape)
    for s in range(2):
        for i in range(in_range.shape[1]):
            for r in range(in_range.shape[2]):
                in_range[s, i, r] = np.rint(in_range[s, i, r])
                # Side s's targets are hit by the other side's fire.
                per_weight[s, i, r] = (fire[1 - s, i, r] / in_range[s, i, r]
                                       if in_range[s, i, r] > 0 else 0.0)
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
# numpy 2.5 corrected the Stirling terms of its BTPE squeeze (numpy/numpy#31238).
_STIRLING_CORRECTED = numpy_version >= (2, 5)


@njit(cache=True)
def binomial(rng, n, p):
    """A binomial draw of ``n`` trials of chance ``p`` from numba's Generator ``rng``:
    numpy's number, from the same random numbers.

    numpy's algorithm (``random_binomial``, as numba ports it) draws X, or n - X for
    ``p > 1/2`` with X drawn at ``1 - p``, by inversion (:func:`_binomial_inversion`)
    where ``n min(p, 1 - p) <= 30`` (nearly every draw here: a unit's casualties in a
    sub-step) and by BTPE otherwise (:func:`_binomial_btpe`). It is written out here,
    not called through numba's ``Generator.binomial``, whose layers of functions took
    a machine's first run nearly twice as long to compile; the arithmetic and the uniforms
    drawn are the same."""
    if n == 0 or p == 0.0:
        return np.int64(0)
    if p <= 0.5:
        if p * n <= 30.0:
            return _binomial_inversion(rng, n, p)
        return _binomial_btpe(rng, n, p)
    q = 1.0 - p
    if q * n <= 30.0:
        return n - _binomial_inversion(rng, n, q)
    return n - _binomial_btpe(rng, n, q)


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _binomial_inversion(rng, n, p):
    """numpy's binomial by inversion (``random_binomial_inversion``), for ``p <= 1/2``
    and ``n p <= 30``: X = 0 if the first uniform U is at most ``qn = (1 - p)^n``,
    computed as ``exp(n log(1 - p))`` before U is drawn. That log and exp are most of a
    draw's cost. But ``qn >= 1 - n p`` (Bernoulli's inequality), so a U below
    ``1 - n p``, less a margin far above the roundings of both sides (a few in 1e16 of
    qn, and of ``1 - p`` n times), gives X = 0 without them; any other U goes on
    through numpy's algorithm with U already drawn: the same uniforms, the same X."""
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


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _binomial_btpe(rng, n, r):
    """numpy's binomial by BTPE (``random_binomial_btpe``) for ``r <= 1/2`` and
    ``n r > 30``: numba's port (``numba.cpython._binomial``) with its uniforms from
    ``rng.random()`` and the squeeze of case 52 written in; numpy 2.5 corrected that
    squeeze's Stirling terms, and numba, like this, follows the numpy it runs with."""
    q = 1.0 - r
    fm = n * r + r
    m = math.floor(fm)
    p1 = math.floor(2.195 * math.sqrt(n * r * q) - 4.6 * q) + 0.5
    xm = m + 0.5
    xl = xm - p1
    xr = xm + p1
    c = 0.134 + 20.5 / (15.3 + m)
    a = (fm - xl) / (fm - xl * r)
    laml = a * (1.0 + a / 2.0)
    a = (xr - fm) / (xr * q)
    lamr = a * (1.0 + a / 2.0)
    p2 = p1 * (1.0 + 2.0 * c)
    p3 = p2 + c / laml
    p4 = p3 + c / lamr
    nrq = n * r * q
    while True:
        # Step 10: a point under the hat.
        u = rng.random() * p4
        v = rng.random()
        if u <= p1:
            # The triangle: accepted at once.
            return np.int64(math.floor(xm - p1 * v + u))
        if u <= p2:
            # The parallelograms.
            x = xl + (u - p1) / c
            v = v * c + 1.0 - math.fabs(m - x + 0.5) / p1
            if v > 1.0:
                continue
            y = math.floor(x)
        elif u <= p3:
            # The left tail.
            y = math.floor(xl + math.log(v) / laml)
            if (y < 0) or (v == 0.0):
                continue
            v = v * (u - p2) * laml
        else:
            # The right tail.
            y = math.floor(xr - math.log(v) / lamr)
            if (y > n) or (v == 0.0):
                continue
            v = v * (u - p3) * lamr
        # Step 50: accept or reject y.
        k = abs(y - m)
        if not ((k > 20) and (k < (nrq / 2.0 - 1))):
            # Explicit evaluation of f(y) / f(m).
            s = r / q
            a = s * (n + 1)
            F = 1.0
            if m < y:
                for i in range(m + 1, y + 1):
                    F = F * (a / i - s)
            elif m > y:
                for i in range(y + 1, m + 1):
                    F = F / (a / i - s)
            if v > F:
                continue
            return np.int64(y)
        # Step 52: squeezing, with Stirling's formula at the end.
        rho = (k / nrq) * ((k * (k / 3.0 + 0.625) + 0.16666666666666666) / nrq + 0.5)
        t = -k * k / (2 * nrq)
        A = math.log(v)
        if A < (t - rho):
            return np.int64(y)
        if A > (t + rho):
            continue
        x1 = y + 1
        f1 = m + 1
        z = n + 1 - m
        w = n - y + 1
        x2 = x1 * x1
        f2 = f1 * f1
        z2 = z * z
        w2 = w * w
        # Stirling's corrections of f1, z, x1 and w; numpy 2.5 corrected the constant
        # (13680 to 13860) and the signs of the last two.
        lead = 13860. if _STIRLING_CORRECTED else 13680.
        sign = -1.0 if _STIRLING_CORRECTED else 1.0
        bound = (xm * np.log(f1 / x1) + (n - m + 0.5) * np.log(z / w)
                 + (y - m) * np.log(w * r / (x1 * q))
                 + (lead - (462. - (132. - (99. - 140. / f2) / f2) / f2) / f2) / f1 / 166320.
                 + (lead - (462. - (132. - (99. - 140. / z2) / z2) / z2) / z2) / z / 166320.
                 + sign * ((lead - (462. - (132. - (99. - 140. / x2) / x2) / x2) / x2) / x1
                           / 166320.)
                 + sign * ((lead - (462. - (132. - (99. - 140. / w2) / w2) / w2) / w2) / w
                           / 166320.))
        if A > bound:
            continue
        return np.int64(y)


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
    n = casualties.size
    killed = np.empty(n, dtype=np.int64)
    returning = np.empty(n, dtype=np.int64)
    permanently_lost = np.empty(n, dtype=np.int64)
    for i in range(n):
        killed[i] = binomial(rng, casualties[i], killed_fraction[i])
    for i in range(n):
        wounded = casualties[i] - killed[i]
        returning[i] = binomial(rng, wounded, return_fraction[i])
        permanently_lost[i] = wounded - returning[i]
    return killed, returning, permanently_lost


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
