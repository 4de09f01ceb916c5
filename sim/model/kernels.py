"""The combat sub-step's passes over the units in the sector, compiled with numba.

The sub-step (:meth:`sim.model.AttritionModel._substep`) is the model's inner loop: up
to ``substeps_per_day`` times a day every unit in the sector is exposed to fire,
moves, and books its casualties. Written as numpy array expressions, each of these
took a few dozen small operations, and their fixed cost (about a microsecond each)
outweighed the arithmetic in every scenario we ship. Each function here does the same
arithmetic in one loop over the units, in the same order, so that the numbers are
those of the array expressions bit for bit. The random draws use the model's numpy
Generator, in the order of numpy's vectorised draws, through numba's port of numpy's
binomial algorithm, which gives numpy's numbers (:func:`sim.model.physics.draw_by_cause`,
:func:`sim.model.physics.split_wounded`); each person's casualty probability is numpy's
(:func:`sim.model.physics.casualty_probability`), and the box sums of aimed fire do scipy's
arithmetic (:func:`sim.model.physics.aimed_fire`): a seed gives the numbers it always gave.

The equations are those of ``docs/ODD.md`` (sections 7.3 to 7.8). Arrays named like
the model's unit columns hold the units in the sector, in index order; ``u_*`` arrays
are the model's columns over all units, written through ``index``.

Compiled on first use and cached beside this file (or in numba's user cache), so a
new environment pays a few seconds once.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from sim.model.units import (
    ADVANCING,
    ASSAULTING,
    ATTACKER,
    DESTROYED,
    HOLDING,
    ROUTED,
    WITHDRAWING,
    WITHDRAWN,
)
from sim.model.physics import (
    AIMED,
    AREA,
    CAUSES,
    FIXED_RATE,
    MINES,
    draw_by_cause,
    mine_hazard,
    split_wounded,
)
from sim.model.morale import breaks, morale_after_losses

_NO_ROW = np.iinfo(np.int64).max


@njit(cache=True)
def contact_grids(side, x, row, personnel, fighting, kill_rate, elastic, dt, radius_cells,
                  width):
    """Personnel and aimed fire by side and cell, over the rows within range of both
    sides (the contact band, ODD 7.3).

    Every enemy within range of a unit in the band is in the band too, so box sums over
    it are exact there, and a unit outside it has no enemy in range. An elastic
    defence's rule reads its own personnel in range as well, which lie within range of
    the band: with elastic units fighting it is widened by the range.

    Returns the band's first row, its number of rows (0: no unit has an enemy in range),
    and two (2, width, rows) grids: personnel present, and the kills each side's
    fighting shooters would make this sub-step (``personnel x kill_rate x dt``).
    """
    lowest = np.array([_NO_ROW, _NO_ROW])
    highest = np.array([-1, -1])
    elastic_fighting = False
    for i in range(side.size):
        s = side[i]
        lowest[s] = min(lowest[s], row[i])
        highest[s] = max(highest[s], row[i])
        elastic_fighting |= fighting[i] and elastic[i]
    empty = np.zeros((2, 0, 0))
    if highest[0] < 0 or highest[1] < 0:
        return 0, 0, empty, empty
    first = max(lowest[0], lowest[1]) - radius_cells
    last = min(highest[0], highest[1]) + radius_cells
    in_contact = False
    for i in range(side.size):
        if first <= row[i] <= last:
            in_contact = True
            break
    if not in_contact:
        return 0, 0, empty, empty
    if elastic_fighting:
        first -= radius_cells
        last += radius_cells
    band_first, band_last = _NO_ROW, -1
    for i in range(side.size):
        if first <= row[i] <= last:
            band_first = min(band_first, row[i])
            band_last = max(band_last, row[i])
    rows = band_last + 1 - band_first
    present = np.zeros((2, width, rows))
    fire = np.zeros((2, width, rows))
    for i in range(side.size):
        if band_first <= row[i] <= band_last:
            weight = float(personnel[i])
            present[side[i], x[i], row[i] - band_first] += weight
            if fighting[i]:
                fire[side[i], x[i], row[i] - band_first] += weight * kill_rate[i] * dt
    return band_first, rows, present, fire


@njit(cache=True)
def hazards_and_moves(
        side, attacking, x, y_m, row, cells, side_cells, exposure, drone_hazard, skill,
        mine_exposure, advance_speed, assault_speed, clears_mines, elastic, y0_m,
        state, personnel, fighting, band_first, band_rows, per_target, in_range, present,
        shelling, cover_factor, fortification_factor, mines, control, fixed_hazard,
        cell_scratch, dt, width, depth, cell_size_m, cell_area_m2, defender_front_row,
        mine_sweep_width_m, mines_cleared_per_person_per_day, clearance_casualties_per_mine,
        routed_speed_m_per_day, elastic_fallback_ratio, elastic_counterattack_ratio,
        elastic_max_fallback_m):
    """Per-person hazards of the sub-step by cause (aimed, area, mines, fixed rate),
    the attack and defence states (``state`` is updated), each unit's move and the mines
    its clearing removes (ODD 7.3, 7.4, 7.7).

    ``per_target``, ``in_range`` and ``present`` are the flattened band grids (see
    :func:`contact_grids` and :func:`sim.model.physics.aimed_fire`); ``shelling`` is the
    artillery and organic hazard per person of each side, ``drone_hazard`` each unit's
    drone hazard after adaptation; ``fixed_hazard`` (empty if unused) replaces fire and
    mines by a fixed loss share. ``cell_scratch`` is a zeroed array over the sector's
    cells, left zeroed.

    Returns the (n, 4) hazards, the moves (m), the mines removed by clearing, whether
    any unit clears and whether any moves.
    """
    n = side.size
    hazards = np.zeros((n, len(CAUSES)))
    move_m = np.zeros(n)
    removed = np.zeros(n)
    clearing = np.zeros(n, dtype=np.bool_)
    any_clearing = False
    any_moving = False
    band_cells = width * band_rows
    for i in range(n):
        # Aimed fire (7.3): kills per person from the box sums, and who is near.
        aimed, enemy_near, own_near, enemy_here = 0.0, 0.0, 0.0, False
        if band_rows > 0 and band_first <= row[i] < band_first + band_rows:
            own = side[i] * band_cells + x[i] * band_rows + (row[i] - band_first)
            enemy = own + (band_cells if attacking[i] else -band_cells)
            aimed = per_target[own]
            enemy_here = present[enemy] > 0
            enemy_near = in_range[enemy]
            own_near = in_range[own]
        protection = (exposure[i] * cover_factor[cells[i]]
                      * fortification_factor[side_cells[i] + cells[i]])
        hazards[i, AIMED] = aimed * protection
        hazards[i, AREA] = (shelling[side[i]] + drone_hazard[i]) * protection

        # Movement and tactics (7.7).
        attack = fighting[i] and attacking[i]
        if attack:
            state[i] = ASSAULTING if enemy_near > 0 else ADVANCING
        speed = assault_speed[i] if state[i] == ASSAULTING else advance_speed[i]
        move = speed if attack and not enemy_here else 0.0
        if fighting[i] and elastic[i]:
            # Elastic defence: give ground under pressure, win it back when it eases:
            # back to its own start, or into lost cells just ahead of it, but never
            # beyond the defender's original forward edge.
            ratio = enemy_near / own_near if own_near > 0 else 0.0
            ahead = max(row[i] - 1, defender_front_row)
            lost_ahead = control[x[i] * depth + ahead] == ATTACKER and ahead < row[i]
            target_y = (ahead + 0.5) * cell_size_m if lost_ahead else y0_m[i]
            fall_back = (ratio > elastic_fallback_ratio
                         and y_m[i] < y0_m[i] + elastic_max_fallback_m)
            counter = (not fall_back and ratio < elastic_counterattack_ratio
                       and y_m[i] > target_y + 1e-9)
            state[i] = HOLDING
            if fall_back:
                state[i] = WITHDRAWING
                move = assault_speed[i]
            if counter:
                state[i] = ASSAULTING
                if not enemy_here:
                    move = -min(assault_speed[i] * dt, y_m[i] - target_y) / dt
        if state[i] == ROUTED:
            move = (-1.0 if attacking[i] else 1.0) * routed_speed_m_per_day
        if attack and clears_mines[i] and mines[cells[i]] >= 0.5:
            clearing[i] = True
            any_clearing = True
            move = 0.0
        # At most one cell a sub-step, so a mover cannot jump over an occupied cell.
        move_m[i] = min(max(move * dt, -cell_size_m), cell_size_m)
        if move_m[i] != 0:
            any_moving = True
            if attacking[i]:
                # Mines (7.4): each walker sets off the mines in its strip.
                hazards[i, MINES] = mine_hazard(mines[cells[i]] / cell_area_m2, abs(move_m[i]),
                                            mine_sweep_width_m, mine_exposure[i])
        if clearing[i]:
            removed[i] = (personnel[i] * mines_cleared_per_person_per_day
                          * (1.0 + skill[i]) * dt)
            cell_scratch[cells[i]] += removed[i]

    if any_clearing:
        # Clearing removes at most the mines in the cell, shared in proportion.
        for i in range(n):
            if clearing[i]:
                wanted = cell_scratch[cells[i]]
                available = mines[cells[i]]
                if wanted > available:
                    removed[i] = removed[i] * (available / wanted)
                hazards[i, MINES] += (removed[i] * clearance_casualties_per_mine
                                  * (1.0 - skill[i]) / max(1.0, float(personnel[i])))
        for i in range(n):
            cell_scratch[cells[i]] = 0.0
    if fixed_hazard.size:
        # Test configuration: a fixed daily loss share replaces fire and mines.
        for i in range(n):
            if np.isfinite(fixed_hazard[i]):
                hazards[i, :] = 0.0
                if fighting[i]:
                    hazards[i, FIXED_RATE] = fixed_hazard[i]
    return hazards, move_m, removed, any_clearing, any_moving


@njit(cache=True)
def resolve_casualties(
        rng, probability, hazards, index, side, personnel, state, killed_fraction,
        return_fraction, return_delay, training_days, break_morale, removed, any_clearing,
        cells, u_personnel, u_killed, u_wounded, u_permanently_lost, u_in_care, u_casualties_today,
        u_morale, u_state, care_ring, casualties_by_cause, training_days_lost, mines,
        cell_scratch, fighting_states, day, morale_loss_per_casualty_fraction, morale_enabled):
    """The sub-step's casualties (ODD 7.4-7.6): drawn with each person's
    ``probability`` and split by cause (:func:`sim.model.physics.draw_by_cause`), split into
    killed and wounded (:func:`sim.model.physics.split_wounded`), booked
    (:func:`book_casualties`), and the mines set off or ``removed`` by clearing taken off
    their cells (:func:`remove_mines`). The draws come from ``rng``, numpy's Generator,
    in the order of numpy's vectorised draws.

    Returns the units (indices into the model's columns) routed and destroyed.
    """
    hit, by_cause = draw_by_cause(rng, personnel, probability, hazards)
    broken = destroyed = np.empty(0, dtype=np.int64)
    mine_casualties = np.zeros(hit.size, dtype=np.int64)
    if hit.size:
        casualties = np.zeros(hit.size, dtype=np.int64)
        for j in range(hit.size):
            for k in range(by_cause.shape[1]):
                casualties[j] += by_cause[j, k]
            mine_casualties[j] = by_cause[j, MINES]
        killed, returning, permanently_lost = split_wounded(
            rng, casualties, killed_fraction[hit], return_fraction[hit])
        broken, destroyed = book_casualties(
            index, side, hit, by_cause, casualties, killed, returning, permanently_lost, personnel[hit],
            state[hit], return_delay, training_days, break_morale, u_personnel, u_killed,
            u_wounded, u_permanently_lost, u_in_care, u_casualties_today, u_morale, u_state,
            care_ring, casualties_by_cause, training_days_lost, fighting_states, day,
            morale_loss_per_casualty_fraction, morale_enabled)
    if any_clearing or mine_casualties.any():
        remove_mines(removed, hit, mine_casualties, cells, mines, cell_scratch)
    return broken, destroyed


@njit(cache=True)
def book_casualties(
        index, side, hit, by_cause, casualties, killed, returning, permanently_lost, personnel_before,
        state_hit, return_delay, training_days, break_morale, u_personnel, u_killed,
        u_wounded, u_permanently_lost, u_in_care, u_casualties_today, u_morale, u_state, care_ring,
        casualties_by_cause, training_days_lost, fighting_states, day,
        morale_loss_per_casualty_fraction, morale_enabled):
    """Book the casualties of the units ``hit`` (positions among the units in the
    sector; the rows of ``by_cause``, ``casualties`` (their totals), ``killed``,
    ``returning``, ``permanently_lost``, ``personnel_before`` and ``state_hit`` match)
    (ODD 7.5, 7.6): killed, wounded who
    return after their delay, wounded lost for good, the training days lost with the
    dead and permanently_lost, morale, and who breaks or is destroyed (their states are set).

    Returns the units (indices into the model's columns) routed and destroyed, in the
    order hit.
    """
    ring_days = care_ring.shape[1]
    lost_days = np.zeros(2)
    broken = np.empty(hit.size, dtype=np.int64)
    destroyed = np.empty(hit.size, dtype=np.int64)
    n_broken = n_destroyed = 0
    for j in range(hit.size):
        i = hit[j]
        unit = index[i]
        s = side[i]
        for k in range(by_cause.shape[1]):
            casualties_by_cause[s, k] += by_cause[j, k]
        before = personnel_before[j]
        after = before - casualties[j]
        u_personnel[unit] = after
        u_killed[unit] += killed[j]
        u_wounded[unit] += returning[j] + permanently_lost[j]
        u_permanently_lost[unit] += permanently_lost[j]
        u_in_care[unit] += returning[j]
        u_casualties_today[unit] += casualties[j]
        care_ring[unit, (day + return_delay[i]) % ring_days] += returning[j]
        lost_days[s] += (killed[j] + permanently_lost[j]) * training_days[i]
        # Morale (7.6): losing a share f of the unit costs sensitivity x f.
        morale = morale_after_losses(u_morale[unit], casualties[j], before,
                                     morale_loss_per_casualty_fraction)
        u_morale[unit] = morale
        if after == 0:
            destroyed[n_destroyed] = unit
            n_destroyed += 1
        elif (morale_enabled and fighting_states[state_hit[j]]
              and breaks(morale, break_morale[i])):
            broken[n_broken] = unit
            n_broken += 1
    training_days_lost += lost_days
    for j in range(n_broken):
        u_state[broken[j]] = ROUTED
    for j in range(n_destroyed):
        u_state[destroyed[j]] = DESTROYED
    return broken[:n_broken], destroyed[:n_destroyed]


@njit(cache=True)
def remove_mines(removed, hit, mine_casualties, cells, mines, cell_scratch):
    """Mines leave their cells (ODD 7.4): those ``removed`` by clearing (per unit in the
    sector) and one for each mine casualty of the units ``hit``; totals per cell, added
    in unit order, then taken off the cell (never below zero). ``cell_scratch`` is a
    zeroed array over the cells, left zeroed."""
    amount = removed.copy()
    for j in range(hit.size):
        amount[hit[j]] += mine_casualties[j]
    for i in range(amount.size):
        if amount[i] != 0:
            cell_scratch[cells[i]] += amount[i]
    for i in range(amount.size):
        total = cell_scratch[cells[i]]
        if total != 0:
            mines[cells[i]] = max(mines[cells[i]] - total, 0.0)
            cell_scratch[cells[i]] = 0.0


@njit(cache=True)
def move_units(index, x, y_m, row, cells, move_m, u_state, u_y_m, edge_m, edge_below_m,
               cell_size_m, depth):
    """Move the units in the sector (destroyed units stay where they fell); routed units
    that leave the sector are withdrawn (their states are set). ``y_m``, ``row`` and
    ``cells`` are updated. Returns whether anyone left."""
    left = False
    for i in range(index.size):
        unit = index[i]
        y = y_m[i] if u_state[unit] == DESTROYED else y_m[i] + move_m[i]
        if u_state[unit] == ROUTED and (y < 0.0 or y >= edge_m):
            u_state[unit] = WITHDRAWN
            left = True
        y = min(max(y, 0.0), edge_below_m)
        y_m[i] = y
        u_y_m[unit] = y
        row[i] = min(max(np.int64(y // cell_size_m), 0), depth - 1)
        cells[i] = x[i] * depth + row[i]
    return left


@njit(cache=True)
def standing(index, side, y_m, cells, u_state, u_personnel, control, fighting_states,
             breakthrough_y_m):
    """Who among the units in the sector still fights after the sub-step's casualties
    and moves (ODD 7.8). Returns that mask, how many fight on each side, whether a
    fighting attacker reached the defender's rear row, and whether a fighting unit
    stands in a cell the enemy holds (only then can a cell change hands)."""
    mask = np.zeros(index.size, dtype=np.bool_)
    counts = np.zeros(2, dtype=np.int64)
    breakthrough = contested = False
    for i in range(index.size):
        unit = index[i]
        if fighting_states[u_state[unit]] and u_personnel[unit] > 0:
            mask[i] = True
            counts[side[i]] += 1
            breakthrough |= side[i] == ATTACKER and y_m[i] >= breakthrough_y_m
            contested |= control[cells[i]] == 1 - side[i]
    return mask, counts, breakthrough, contested


@njit(cache=True)
def cells_changing_hands(index, side, cells, standing, control):
    """Cells that change hands this sub-step (ODD 7.8): held by one side, with fighting
    units of the other side alone in them. ``control`` (flat, per cell) is updated.
    Returns the cells taken, in the order attacker then defender and ascending cells,
    and for each the first of the taking side's units (index into the model's columns)
    standing in it, which is credited with it."""
    # Rows: occupied by a fighting attacker, by a fighting defender; taken this sub-step.
    marks = np.zeros((3, control.size), dtype=np.bool_)
    for i in range(index.size):
        if standing[i]:
            marks[side[i], cells[i]] = True
    taken = np.empty(index.size, dtype=np.int64)
    takers = np.empty(index.size, dtype=np.int64)
    count = 0
    for s in range(2):
        first = count
        for i in range(index.size):
            c = cells[i]
            if (standing[i] and side[i] == s and control[c] == 1 - s
                    and not marks[1 - s, c] and not marks[2, c]):
                marks[2, c] = True
                taken[count], takers[count] = c, index[i]
                count += 1
        order = np.argsort(taken[first:count], kind="mergesort")
        taken[first:count] = taken[first:count][order]
        takers[first:count] = takers[first:count][order]
        for j in range(first, count):
            control[taken[j]] = s
    return taken[:count], takers[:count]
