"""The combat sub-step's passes over the units in the sector, compiled with numba.

The sub-step (:meth:`sim.model.combat.Combat.substep`) is the model's inner loop: up
to ``substeps_per_day`` times a day every unit in the sector is exposed to fire,
moves, and books its casualties. Written as numpy array expressions, each of these
took a few dozen small operations, and their fixed cost (about a microsecond each)
outweighed the arithmetic in every scenario we ship. Each function here does the same
arithmetic in one loop over the units, in the same order, so that the numbers are
those of the array expressions bit for bit. The random draws use the model's numpy
Generator, in the order of numpy's vectorised draws, through numpy's binomial
algorithm as numba ports it, which gives numpy's numbers (:func:`sim.model.physics.binomial`,
:func:`sim.model.physics.draw_by_cause`, :func:`sim.model.physics.split_wounded`); each
person's casualty probability is numpy's (:func:`sim.model.physics.casualty_probability`),
and the box sums of aimed fire do scipy's arithmetic (:func:`sim.model.physics.aimed_fire`):
a seed gives the numbers it always gave.

A sub-step is two calls from Python (:func:`plan_substep`, then numpy's exp, then
:func:`settle_substep`), each making several passes: a call into numba costs a few
microseconds before it starts, and the sub-step is made 24 times a day.

The equations are those of ``docs/ODD.md`` (sections 7.3, 7.4, 7.7 and 7.8; the
casualties of 7.4-7.6 are booked by :mod:`sim.model.casualties`). The kernels take named
records: the units in the sector (:data:`ENGAGED_DTYPE`, a structured array), the
model's unit column store (:data:`sim.model.units.UNIT_DTYPE`, written through
``engaged.index``), the day's rules (:data:`RULES_DTYPE`), the cells
(:class:`sim.model.sector.Ground`) and the small records below. Inside a kernel, fields
are bound to local names at the top (``u_*`` for the column store's), so that the loops
read as the equations.

Compiled on first use and cached beside this file (or in numba's user cache), so a
new environment pays about 10 s once, announced (:func:`announce_compiling`) and shared
between processes (:func:`compile_alongside`). numba
checks a cached function against its own file only: after a change to a function
another file's kernel calls (physics, casualties, morale), delete the cache
(``sim/model/__pycache__/*.nbi`` and ``*.nbc``), or the callers keep the old code.
"""

from __future__ import annotations

import gc
import inspect
import os
import signal
import subprocess
import sys
import threading
import time
import warnings
from typing import NamedTuple

import numba
import numpy as np
from numba import njit

from sim.model.casualties import generator_at, resolve_casualties
from sim.model.physics import (
    AIMED,
    AREA,
    CAUSES,
    FIXED_RATE,
    MINES,
    _aimed_fire_in_windows,
    mine_hazard,
    probability_terms,
)
from sim.model.sector import Ground
from sim.model.units import (
    ADVANCING,
    ASSAULTING,
    ATTACKER,
    DESTROYED,
    HOLDING,
    IS_FIGHTING,
    IS_IN_SECTOR,
    ROUTED,
    WITHDRAWING,
    WITHDRAWN,
)

_NO_ROW = np.iinfo(np.int64).max

# The units in the sector, one record each, in ascending order of their row in the
# column store (``index``), so that random draws come in the order of a pass over all
# units. Most fields stay fixed for the day; positions follow the units' moves, and
# ``state`` and ``personnel`` follow the column store's: the kernels that change those
# change both (reading the column store's, a record of its own per unit, cost more than
# a tenth of a sub-step). ``fighting`` is set at the start of every sub-step.
ENGAGED_DTYPE = np.dtype([
    ("index", np.int64),  # row in the unit column store
    ("side", np.int64),
    ("attacking", np.bool_),
    ("x", np.int64),  # lane
    ("y_m", np.float64),  # depth (m)
    ("y0_m", np.float64),  # starting depth (m)
    ("row", np.int64),
    ("cell", np.int64),  # x * depth + row
    ("side_cell", np.int64),  # offset of the side's table in a side x cell table
    ("kill_rate", np.float64),  # aimed kills per fighting person per day
    ("exposure", np.float64),  # share of aimed and area fire not avoided by tactics, skill
    ("drone_exposure", np.float64),  # share of drone hits not avoided by adaptation
    ("skill", np.float64),
    ("training_days", np.float64),
    ("mine_exposure", np.float64),
    ("advance_speed_m_per_day", np.float64),
    ("assault_speed_m_per_day", np.float64),
    ("clears_mines", np.bool_),
    ("tempo", np.float64),  # the side's intensity today (ODD 7.3): scales mine clearing
    ("elastic", np.bool_),  # holds an elastic defence
    ("break_morale", np.float64),
    ("killed_fraction", np.float64),
    ("return_fraction", np.float64),
    ("return_delay_days", np.int64),
    ("fixed_hazard", np.float64),  # per sub-step where a fixed loss share replaces fire
    ("state", np.int64),  # as in the column store
    ("personnel", np.int64),  # as in the column store
    ("fighting", np.bool_),  # at the start of the sub-step
])

# The day's rules of the sub-step, one record (an array of one, which numba takes at the
# cost of an array): ``rules[0].dt``.
RULES_DTYPE = np.dtype([
    ("day", np.int64),
    ("dt", np.float64),  # sub-step length (days)
    ("any_fixed_loss", np.bool_),  # a side has a fixed loss share (ENGAGED.fixed_hazard)
    ("mine_sweep_width_m", np.float64),
    ("mines_cleared_per_person_per_day", np.float64),
    ("clearance_casualties_per_mine", np.float64),
    ("routed_speed_m_per_day", np.float64),
    ("elastic_fallback_ratio", np.float64),
    ("elastic_counterattack_ratio", np.float64),
    ("elastic_max_fallback_m", np.float64),
    ("morale_loss_per_casualty_fraction", np.float64),
    ("morale_enabled", np.bool_),
])


class Band(NamedTuple):
    """The contact band (:func:`contact_grids`) and the aimed fire in it
    (:func:`sim.model.physics.aimed_fire`), as flat (2, width, rows) grids."""

    first_row: int
    rows: int  # 0: no unit has an enemy in range
    per_target: np.ndarray  # aimed kills per person present
    in_range: np.ndarray  # persons within range
    present: np.ndarray  # persons present


class AreaFire(NamedTuple):
    """Fire from behind the line this sub-step, per person of each side, before
    protection (ODD 7.3)."""

    shelling: np.ndarray  # artillery and organic fire, per side
    drones: np.ndarray  # drones, per side, before each unit's adaptation


class Tallies(NamedTuple):
    """What the casualties add to besides the unit columns."""

    care_ring: np.ndarray  # unit x day (mod ring length): wounded due back
    casualties_by_cause: np.ndarray  # side x cause
    training_days_lost: np.ndarray  # per side


class KernelInputs(NamedTuple):
    """What the sub-step passes to the kernels besides the units in the sector, with
    the types it passes (:meth:`sim.model.combat.Combat.kernel_inputs`): what a
    machine's first run compiles them for (:func:`compile_alongside`)."""

    units: np.ndarray  # the unit column store
    support: np.ndarray  # fire support, (5, 2)
    rules: np.ndarray  # RULES_DTYPE, one record
    tallies: Tallies
    ground: Ground
    generator: np.ndarray  # the Generator's addresses (generator_addresses)


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def start_substep(engaged):
    """Set whether the ``engaged`` units fight, from their state as the sub-step
    starts. Returns their extent in depth (:func:`extent`), taken in the same pass."""
    state, fighting = engaged.state, engaged.fighting
    for i in range(state.size):
        fighting[i] = IS_FIGHTING[state[i]]
    return extent(engaged)


@njit(cache=True)
def extent(engaged):
    """The lowest and highest rows of each side's units, ``(lowest_attacker,
    lowest_defender, highest_attacker, highest_defender)`` (highest -1 for a side with
    none), and whether an elastic defender is fighting."""
    side, row, fighting, elastic = engaged.side, engaged.row, engaged.fighting, engaged.elastic
    # Four numbers rather than arrays by side: the loop keeps them in registers.
    lowest_0 = lowest_1 = _NO_ROW
    highest_0 = highest_1 = -1
    elastic_fighting = False
    for i in range(side.size):
        r = row[i]
        if side[i] == 0:
            lowest_0, highest_0 = min(lowest_0, r), max(highest_0, r)
        else:
            lowest_1, highest_1 = min(lowest_1, r), max(highest_1, r)
        elastic_fighting |= fighting[i] and elastic[i]
    return lowest_0, lowest_1, highest_0, highest_1, elastic_fighting


@njit(cache=True)
def side_totals(engaged, per_unit):
    """Per side: the sum of ``per_unit`` (over all units) over the ``engaged`` units."""
    totals = np.zeros(2)
    for i in range(engaged.size):
        totals[engaged[i].side] += per_unit[engaged[i].index]
    return totals


@njit(cache=True)
def gather(units, kill_rate, exposure, skill, mine_exposure, advance_speed_m_per_day,
           assault_speed_m_per_day, clears_mines, break_morale, elastic, tempo,
           killed_fraction, return_fraction, return_delay_days, fixed_hazard_per_day, dt,
           drone_adaptation_effect, width, depth, cell_size_m):
    """The units in the sector (by the unit column store ``units``: fighting or routed,
    with someone left) as :data:`ENGAGED_DTYPE` records, in the order of their rows,
    with what stays fixed for the day (:meth:`sim.model.combat.Combat.engaged`).

    Per unit (over all units): ``kill_rate``, ``exposure``, ``skill``, the tactic's
    ``mine_exposure``, speeds, ``clears_mines`` and ``break_morale``, and ``elastic``;
    per side: ``tempo``, ``return_delay_days`` and ``fixed_hazard_per_day``; per
    contingent: ``killed_fraction`` and ``return_fraction``."""
    u_state, u_personnel = units.state, units.personnel
    n = 0
    for unit in range(u_state.size):
        n += IS_IN_SECTOR[u_state[unit]] and u_personnel[unit] > 0
    engaged = np.zeros(n, dtype=ENGAGED_DTYPE)
    i = 0
    for unit in range(u_state.size):
        if not (IS_IN_SECTOR[u_state[unit]] and u_personnel[unit] > 0):
            continue
        e, u = engaged[i], units[unit]
        side = u.side
        e.index, e.side, e.attacking = unit, side, side == ATTACKER
        e.x, e.y_m, e.y0_m, e.training_days = u.x, u.y_m, u.y0_m, u.training_days
        # The row as Sector.rows gives it (numpy's floor division).
        e.row = min(max(np.int64(u.y_m // cell_size_m), 0), depth - 1)
        e.cell = e.x * depth + e.row
        e.side_cell = side * width * depth
        e.kill_rate, e.exposure, e.skill = kill_rate[unit], exposure[unit], skill[unit]
        e.drone_exposure = 1.0 - drone_adaptation_effect * u.theatre_adaptation
        e.mine_exposure = mine_exposure[unit]
        e.tempo = tempo[side]
        e.advance_speed_m_per_day = advance_speed_m_per_day[unit] * e.tempo
        e.assault_speed_m_per_day = assault_speed_m_per_day[unit] * e.tempo
        e.clears_mines, e.break_morale = clears_mines[unit], break_morale[unit]
        e.elastic = elastic[unit]
        e.killed_fraction = killed_fraction[u.contingent]
        e.return_fraction = return_fraction[u.contingent]
        e.return_delay_days = return_delay_days[side]
        e.fixed_hazard = fixed_hazard_per_day[side] * dt
        e.state, e.personnel, e.fighting = u.state, u.personnel, IS_FIGHTING[u.state]
        i += 1
    return engaged


@njit(cache=True)
def keep_in_sector(engaged, units, per_unit):
    """Drop from ``engaged``, in place and keeping their order, the units that are no
    longer in the sector (by the unit column store ``units``: destroyed, withdrawn, or
    no one left). Returns how many are kept (the first rows of ``engaged``) and, per
    side, the sum of ``per_unit`` (over all units) over them, as :func:`side_totals`."""
    index, u_state, u_personnel = engaged.index, units.state, units.personnel
    kept = 0
    totals = np.zeros(2)
    for i in range(index.size):
        unit = index[i]
        if IS_IN_SECTOR[u_state[unit]] and u_personnel[unit] > 0:
            if kept != i:
                engaged[kept] = engaged[i]
            totals[engaged[kept].side] += per_unit[unit]
            kept += 1
    return kept, totals


@njit(cache=True)
def contact_grids(engaged, dt, radius_cells, width):
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
    return contact_band(engaged, dt, radius_cells, width, extent(engaged))


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def contact_band(engaged, dt, radius_cells, width, extent):
    """:func:`contact_grids` given the units' ``extent`` (:func:`extent`)."""
    side, x, row, personnel = engaged.side, engaged.x, engaged.row, engaged.personnel
    fighting, kill_rate = engaged.fighting, engaged.kill_rate
    lowest_0, lowest_1, highest_0, highest_1, elastic_fighting = extent
    empty = np.zeros((2, 0, 0))
    if highest_0 < 0 or highest_1 < 0:
        return 0, 0, empty, empty
    first = max(lowest_0, lowest_1) - radius_cells
    last = min(highest_0, highest_1) + radius_cells
    # The band's rows, widened for an elastic defence; it is there only if a unit
    # stands within range of both sides.
    widen = radius_cells if elastic_fighting else 0
    in_contact = False
    band_first, band_last = _NO_ROW, -1
    for i in range(side.size):
        r = row[i]
        in_contact |= first <= r <= last
        if first - widen <= r <= last + widen:
            band_first = min(band_first, r)
            band_last = max(band_last, r)
    if not in_contact:
        return 0, 0, empty, empty
    rows = band_last + 1 - band_first
    # Flat (side, lane, row) grids: one offset per unit rather than three indices each.
    present = np.zeros(2 * width * rows)
    fire = np.zeros(2 * width * rows)
    for i in range(side.size):
        r = row[i] - band_first
        if 0 <= r < rows:
            k = (side[i] * width + x[i]) * rows + r
            weight = float(personnel[i])
            present[k] += weight
            if fighting[i]:
                fire[k] += weight * kill_rate[i] * dt
    return band_first, rows, present.reshape((2, width, rows)), fire.reshape((2, width, rows))


@njit(cache=True)
def hazards_and_moves(engaged, band, area_fire, ground, rules, units):
    """Per-person hazards of the sub-step by cause (aimed, area, mines, fixed rate),
    the attack and defence states (``state`` is updated), each unit's move and the mines
    its clearing removes (ODD 7.3, 7.4, 7.7).

    ``engaged`` (:data:`ENGAGED_DTYPE`) are the units in the sector, ``band`` the aimed
    fire (:class:`Band`), ``area_fire`` the fire from behind the line
    (:class:`AreaFire`), ``ground`` the cells (:class:`sim.model.sector.Ground`) and ``rules`` the
    day's rules (:data:`RULES_DTYPE`). Where a side has a fixed loss share, it replaces
    fire and mines. The new states are written to the unit column store ``units`` too.

    Returns the (n, 4) hazards, the moves (m), the mines removed by clearing, whether
    any unit clears and whether any moves.
    """
    side, attacking, x, y_m = engaged.side, engaged.attacking, engaged.x, engaged.y_m
    row, cells, side_cells = engaged.row, engaged.cell, engaged.side_cell
    exposure, drone_exposure, skill = engaged.exposure, engaged.drone_exposure, engaged.skill
    shelling, drones = area_fire.shelling, area_fire.drones
    mine_exposure, clears_mines, elastic = (engaged.mine_exposure, engaged.clears_mines,
                                            engaged.elastic)
    advance_speed, assault_speed = (engaged.advance_speed_m_per_day,
                                    engaged.assault_speed_m_per_day)
    y0_m, state, personnel, fighting = (engaged.y0_m, engaged.state, engaged.personnel,
                                        engaged.fighting)
    index, u_state = engaged.index, units.state
    band_first, band_rows = band.first_row, band.rows
    per_target, in_range, present = band.per_target, band.in_range, band.present
    cover_factor, fortification_factor = ground.cover_factor, ground.fortification_factor
    mines, control, cell_scratch = ground.mines, ground.control, ground.cell_scratch
    width, depth, cell_size_m = ground.width, ground.depth, ground.cell_size_m
    cell_area_m2, defender_front_row = ground.cell_area_m2, ground.defender_front_row
    r = rules[0]
    dt = r.dt
    n = side.size
    hazards = np.zeros((n, len(CAUSES)))
    move_m = np.zeros(n)
    removed = np.zeros(n)
    clearing = np.zeros(n, dtype=np.bool_)
    any_clearing = False
    any_moving = False
    band_cells = width * band_rows
    for i in range(n):
        state_before = state[i]
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
        drone_hazard = drones[side[i]] * drone_exposure[i]
        hazards[i, AREA] = (shelling[side[i]] + drone_hazard) * protection

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
            fall_back = (ratio > r.elastic_fallback_ratio
                         and y_m[i] < y0_m[i] + r.elastic_max_fallback_m)
            counter = (not fall_back and ratio < r.elastic_counterattack_ratio
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
            move = (-1.0 if attacking[i] else 1.0) * r.routed_speed_m_per_day
        if attack and clears_mines[i] and mines[cells[i]] >= 0.5:
            clearing[i] = True
            any_clearing = True
            move = 0.0
        if state[i] != state_before:
            u_state[index[i]] = state[i]
        # At most one cell a sub-step, so a mover cannot jump over an occupied cell.
        move_m[i] = min(max(move * dt, -cell_size_m), cell_size_m)
        if move_m[i] != 0:
            any_moving = True
            if attacking[i]:
                # Mines (7.4): each walker sets off the mines in its strip.
                hazards[i, MINES] = mine_hazard(mines[cells[i]] / cell_area_m2, abs(move_m[i]),
                                            r.mine_sweep_width_m, mine_exposure[i])
        if clearing[i]:
            removed[i] = (personnel[i] * r.mines_cleared_per_person_per_day
                          * (1.0 + skill[i]) * engaged.tempo[i] * dt)
            cell_scratch[cells[i]] += removed[i]

    if any_clearing:
        # Clearing removes at most the mines in the cell, shared in proportion.
        for i in range(n):
            if clearing[i]:
                wanted = cell_scratch[cells[i]]
                available = mines[cells[i]]
                if wanted > available:
                    removed[i] = removed[i] * (available / wanted)
                hazards[i, MINES] += (removed[i] * r.clearance_casualties_per_mine
                                  * (1.0 - skill[i]) / max(1.0, float(personnel[i])))
        for i in range(n):
            if clearing[i]:  # the only cells written
                cell_scratch[cells[i]] = 0.0
    if r.any_fixed_loss:
        # Test configuration: a fixed daily loss share replaces fire and mines.
        fixed_hazard = engaged.fixed_hazard
        for i in range(n):
            if np.isfinite(fixed_hazard[i]):
                hazards[i, :] = 0.0
                if fighting[i]:
                    hazards[i, FIXED_RATE] = fixed_hazard[i]
    return hazards, move_m, removed, any_clearing, any_moving


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def move_and_stand(engaged, move_m, any_moving, units, ground):
    """Move the ``engaged`` units by ``move_m`` if ``any_moving`` (destroyed units stay
    where they fell); routed units that leave the sector are withdrawn (their states are
    set). Their positions, rows and cells are updated, and the depths in the column
    store ``units``. Then, in the same pass, who still fights after the sub-step's
    casualties and moves (ODD 7.8).

    Returns whether anyone left, the mask of those who fight, how many fight on each
    side, whether a fighting attacker reached the defender's rear row, and the fighting
    units standing in cells the enemy holds (positions among the ``engaged``, in order:
    only those cells can change hands).
    """
    index, side, x, y_m, row, cells = (engaged.index, engaged.side, engaged.x, engaged.y_m,
                                       engaged.row, engaged.cell)
    state, personnel, u_state, u_y_m = engaged.state, engaged.personnel, units.state, units.y_m
    cell_size_m, depth, control = ground.cell_size_m, ground.depth, ground.control
    edge_m = depth * cell_size_m
    edge_below_m = np.nextafter(edge_m, 0.0)
    breakthrough_y_m = (depth - 1) * cell_size_m
    left = breakthrough = False
    fighting = np.zeros(index.size, dtype=np.bool_)
    attackers = defenders = 0  # counted in registers, not in an array by side
    contested = np.empty(index.size, dtype=np.int64)
    n_contested = 0
    for i in range(index.size):
        unit = index[i]
        if any_moving:
            y = y_m[i] if state[i] == DESTROYED else y_m[i] + move_m[i]
            if state[i] == ROUTED and (y < 0.0 or y >= edge_m):
                state[i] = u_state[unit] = WITHDRAWN
                left = True
            y = min(max(y, 0.0), edge_below_m)
            if y != y_m[i]:
                # Rows are taken as numpy's floor division gives them (sector.rows),
                # which costs a call: only for those who moved.
                y_m[i] = y
                u_y_m[unit] = y
                row[i] = min(max(np.int64(y // cell_size_m), 0), depth - 1)
                cells[i] = x[i] * depth + row[i]
        if IS_FIGHTING[state[i]] and personnel[i] > 0:
            fighting[i] = True
            if side[i] == ATTACKER:
                attackers += 1
                breakthrough |= y_m[i] >= breakthrough_y_m
            else:
                defenders += 1
            if control[cells[i]] == 1 - side[i]:
                contested[n_contested] = i
                n_contested += 1
    return (left, fighting, np.array([attackers, defenders]), breakthrough,
            contested[:n_contested])


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def cells_changing_hands(engaged, standing, contested, control):
    """Cells that change hands this sub-step (ODD 7.8): held by one side, with fighting
    units (``standing``) of the other side alone in them; ``contested`` are the
    positions, in order, of the fighting units standing in cells the enemy holds
    (:func:`move_and_stand`), the only ones that can take one. ``control`` (flat, per
    cell) is updated. Returns the cells taken, in the order attacker then defender and
    ascending cells, and for each the first of the taking side's units (index into the
    model's columns) standing in it, which is credited with it."""
    index, side, cells = engaged.index, engaged.side, engaged.cell
    # Three flat rows of marks: occupied by a fighting attacker, by a fighting defender;
    # taken this sub-step.
    n_cells = control.size
    marks = np.zeros(3 * n_cells, dtype=np.bool_)
    taken_row = 2 * n_cells
    for i in range(index.size):
        if standing[i]:
            marks[side[i] * n_cells + cells[i]] = True
    taken = np.empty(contested.size, dtype=np.int64)
    takers = np.empty(contested.size, dtype=np.int64)
    count = 0
    for s in range(2):
        first = count
        # Cells the attacker takes have no defender fighting in them: the defender's
        # candidates are the same after its turn.
        for i in contested:
            c = cells[i]
            if (side[i] == s and control[c] == 1 - s
                    and not marks[(1 - s) * n_cells + c] and not marks[taken_row + c]):
                marks[taken_row + c] = True
                taken[count], takers[count] = c, index[i]
                count += 1
        # In ascending cells, each taken once (so any sort gives this order): an
        # insertion sort, as a handful are taken at a time, which numba compiles in a
        # fraction of the time of np.argsort's mergesort and the checked slice copies.
        for j in range(first + 1, count):
            cell, taker = taken[j], takers[j]
            k = j - 1
            while k >= first and taken[k] > cell:
                taken[k + 1], takers[k + 1] = taken[k], takers[k]
                k -= 1
            taken[k + 1], takers[k + 1] = cell, taker
        for j in range(first, count):
            control[taken[j]] = s
    return taken[:count], takers[:count]


# ------------------------------------------------------------- a sub-step in two calls
# Two calls, one on each side of numpy's exp, which the casualty probability keeps
# (:func:`sim.model.physics.casualty_probability`). The day's records
# (:class:`sim.model.sector.Ground`, :class:`Tallies`) are passed as their fields: numba
# types a named tuple field by field in Python, at twice the cost, and they are put
# together again inside.

@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def area_fire(engaged, support, dt):
    """Per-person hazard of area fire on each side this sub-step, before protection
    (ODD 7.3): artillery and drones are fixed for the day, organic fire grows with the
    enemy's soldiers fighting. ``support`` holds the day's fire support
    (:class:`sim.model.combat.FireSupport`) as a (5, 2) array, its fields in order."""
    footprint_m2, artillery, drones = support[0], support[1], support[2]
    organic, organic_area_m2 = support[3], support[4]
    shelling = artillery.copy()
    if organic[0] == 0 and organic[1] == 0:
        return AreaFire(shelling, drones)
    shooters = np.zeros(2)
    for i in range(engaged.size):
        if engaged[i].fighting:
            shooters[engaged[i].side] += engaged[i].personnel
    # A side has an organic fire rate only where the enemy has units in the sector.
    for firer in range(2):
        if organic[firer] != 0:
            target = 1 - firer
            strikes = organic[firer] * shooters[firer] * dt
            hazard = (strikes * organic_area_m2[firer] / footprint_m2[target]
                      if footprint_m2[target] > 0.0 else 0.0)
            shelling[target] = hazard + artillery[target]
    return AreaFire(shelling, drones)


@njit(cache=True)
def plan_substep(engaged, units, support, rules, radius_cells, given_per_target,
                 given_in_range, *ground):
    """The sub-step's passes before the casualty draw: who fights as it starts
    (:func:`start_substep`), the contact band (:func:`contact_grids`) and the aimed fire
    in it (:func:`sim.model.physics.aimed_fire`), area fire (:func:`area_fire`), hazards
    and moves (:func:`hazards_and_moves`; ``units`` gets the new states) and the terms
    of the casualty probability (:func:`sim.model.physics.probability_terms`).

    ``support`` is the day's fire support as :func:`area_fire` takes it, ``ground`` the
    fields of :class:`sim.model.sector.Ground`. Where the windows of aimed fire cover
    the whole band, its sums are numpy's (:func:`sim.model.physics.aimed_fire`): then
    this returns with ``needs_sums`` set and nothing planned, to be called again with
    them, flat, as ``given_per_target`` and ``given_in_range`` (otherwise empty).

    Returns needs_sums, the band's first row, its rows, the personnel present and the
    fire in it (:func:`contact_grids`), then the hazards, the exponent and the share
    kept (:func:`sim.model.physics.probability_terms`), the moves (m), the mines
    removed by clearing, whether any unit clears and whether any moves.
    """
    ground = Ground(*ground)
    dt = rules[0].dt
    first, rows, present, fire = contact_band(engaged, dt, radius_cells, ground.width,
                                              start_substep(engaged))
    per_target = in_range = present.reshape(-1)
    if rows > 0:
        if radius_cells < max(ground.width, rows) - 1:
            windowed, near = _aimed_fire_in_windows(present, fire, radius_cells)
            per_target, in_range = windowed.reshape(-1), near.reshape(-1)
        elif given_per_target.size == 0:
            nothing = np.zeros(0)
            return (True, first, rows, present, fire, np.zeros((0, len(CAUSES))), nothing,
                    nothing, nothing, nothing, False, False)
        else:
            per_target, in_range = given_per_target, given_in_range
    band = Band(first, rows, per_target, in_range, present.reshape(-1))
    hazards, move_m, removed, any_clearing, any_moving = hazards_and_moves(
        engaged, band, area_fire(engaged, support, dt), ground, rules, units)
    exponent, keep = probability_terms(hazards)
    return (False, first, rows, present, fire, hazards, exponent, keep, move_m, removed,
            any_clearing, any_moving)


@njit(cache=True)
def settle_substep(generator, exp_exponent, keep, hazards, removed, any_clearing, move_m,
                   any_moving, occupancy_changed, engaged, units, care_ring,
                   casualties_by_cause, training_days_lost, rules, *ground):
    """The sub-step's passes from the casualty draw on: each person's probability
    (``1 - keep x exp_exponent``, the exp numpy's), the casualties drawn from the
    Generator at ``generator`` (:func:`sim.model.casualties.generator_addresses`) and
    booked (:func:`sim.model.casualties.resolve_casualties`), the moves
    and who still fights (:func:`move_and_stand`) and, where a unit may
    have entered, left or moved since (``occupancy_changed``, or this sub-step's
    casualties and moves), the cells changing hands (:func:`cells_changing_hands`).
    ``care_ring``, ``casualties_by_cause`` and ``training_days_lost`` are the fields of
    :class:`Tallies`, ``ground`` those of :class:`sim.model.sector.Ground`.

    Returns the units (indices into the model's columns) routed and the rows they stood
    in when they broke, those destroyed and theirs, the units credited with the cells
    taken (:func:`cells_changing_hands`), who still fights, how many on each side,
    whether an attacker broke through, whether occupancy was looked at (it is then up
    to date), and whether any unit left the sector (destroyed, or routed off it).
    """
    ground = Ground(*ground)
    tallies = Tallies(care_ring, casualties_by_cause, training_days_lost)
    n = keep.size
    probability = np.empty(n)
    for i in range(n):
        probability[i] = 1.0 - keep[i] * exp_exponent[i]
    broken, destroyed = resolve_casualties(generator_at(generator), probability, hazards,
                                           removed, any_clearing, engaged, units, tallies,
                                           ground, rules)
    # The event log places a unit where it broke or fell, before the routed move.
    broken_rows, destroyed_rows = _rows_of(broken, units, ground), _rows_of(destroyed, units,
                                                                             ground)
    left, fighting, counts, breakthrough, contested = move_and_stand(engaged, move_m,
                                                                    any_moving, units, ground)
    left |= destroyed.size > 0
    looked = occupancy_changed or broken.size > 0 or destroyed.size > 0 or any_moving
    takers = np.empty(0, dtype=np.int64)
    if looked and contested.size:
        takers = cells_changing_hands(engaged, fighting, contested, ground.control)[1]
    return (broken, broken_rows, destroyed, destroyed_rows, takers, fighting, counts,
            breakthrough, looked, left)


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def _rows_of(rows_in_store, units, ground):
    """The rows (cells in depth) the units ``rows_in_store`` stand in, as
    :meth:`sim.model.sector.Sector.row` gives them."""
    out = np.empty(rows_in_store.size, dtype=np.int64)
    for j in range(rows_in_store.size):
        y = units[rows_in_store[j]].y_m
        out[j] = min(ground.depth - 1, max(0, np.int64(y // ground.cell_size_m)))
    return out


# ---------------------------------------------------------------- compiling, once
# A machine's first run compiles the kernels, most of it (about 85 %) the two entry
# points, each with everything it calls. They are compiled beside the rest: once the
# model has its combat, two forked copies of this process compile one entry point each,
# for the types the sub-step passes (:meth:`sim.model.combat.Combat.kernel_inputs`,
# :func:`first_run_jobs`), into numba's cache, while this process compiles the small
# kernels it calls first (gather, the records' sums); it waits for each copy before the
# entry point's first call, which then loads it. numba loads a callee from the cache
# too, so plan_substep's copy, which has less to do, first compiles the last kernels
# settle_substep calls. On 2 cores that takes about 10 s of the 15 s of compiling in all
# (benchmarks/cli_manners.py). Where a fork is not safe (not Linux, or other threads
# running, as in the demo's server), a helper process builds a small model of its own and
# compiles settle_substep, and this process compiles the rest.
#
# Less to compile: kernels that only other kernels call are compiled without the
# wrappers that let Python call them (``no_cpython_wrapper``, ``no_cfunc_wrapper``), and
# code whose numpy form numba compiles at length (slices, fancy indexing, array
# expressions, np.argsort, numba's layers of Generator.binomial) is written as loops.

#: Seconds a machine's first run spends compiling the kernels (numba), on 2 cores with
#: nothing else running: said in the notice (``benchmarks/cli_manners.py`` measures it).
COMPILE_SECONDS = 10
#: The entry points by name; the other kernels compile as they are first called.
_ENTRY_POINTS = {"plan_substep": plan_substep, "settle_substep": settle_substep}
#: Set in a helper process (and wherever no helper is wanted).
NO_HELPER_VARIABLE = "ATTRITION_NO_COMPILE_HELPER"
#: Seconds to wait for a helper at most; the entry point then compiles here (correct,
#: only slower).
HELPER_TIMEOUT_S = 300.0
_announced = False
_started = False
#: The helpers compiling an entry point: its name -> a forked copy's pid, or a process.
_helpers: dict[str, int | subprocess.Popen] = {}


def compiled() -> bool:
    """Whether the kernels are compiled in this process or in numba's cache for this
    version of their source (the cache's index names the source's time stamp)."""
    try:
        return all(kernel.overloads or kernel._cache._cache_file._load_index()
                   for kernel in _ENTRY_POINTS.values())
    except (AttributeError, OSError, ValueError, EOFError):
        # numba's cache is private API; if it changed, say nothing rather than say
        # something untrue.
        return True


def announce_compiling(stream=None) -> bool:
    """If the kernels are neither compiled nor cached: say once per process, on stderr,
    that the model is being compiled (a machine's first run otherwise sits silent for
    its compile time); :func:`compile_alongside` then starts the helpers. Returns
    whether it said so."""
    global _announced
    if _announced or os.environ.get(NO_HELPER_VARIABLE) or compiled():
        return False
    _announced = True
    print(f"attrition: compiling the model, once: about {COMPILE_SECONDS} s (numba keeps "
          f"it in its cache for later runs)", file=stream or sys.stderr, flush=True)
    return True


def announced() -> bool:
    """Whether :func:`announce_compiling` has spoken in this process."""
    return _announced


def compile_alongside(inputs) -> None:
    """After :func:`announce_compiling` spoke, once per process: start compiling the
    entry points beside this process. ``inputs`` gives, when called, the
    :class:`KernelInputs` of the model's sub-step."""
    global _started
    if not _announced or _started:
        return
    _started = True
    if sys.platform.startswith("linux") and threading.active_count() == 1:
        # The copies' garbage collections would otherwise visit (and so copy) every
        # page of this process's objects: seconds of a first run in the kernel.
        gc.freeze()
        try:
            for jobs in first_run_jobs(inputs()):
                pid = _fork_compiling(jobs)
                if pid is not None:
                    _helpers[jobs[-1][0].__name__] = pid
        finally:
            gc.unfreeze()
    else:
        helper = _start_helper()
        if helper is not None:
            _helpers["settle_substep"] = helper


def first_run_jobs(inputs: KernelInputs) -> tuple[list, list]:
    """Each helper's work, in order: kernels, each with arguments of the types the
    sub-step passes it, for no unit in the sector. settle_substep's helper, with more
    to compile, leaves the last kernels settle_substep calls to plan_substep's, which
    compiles them first; it then loads them from the cache."""
    units, support, rules, tallies, ground, generator = inputs
    engaged, nothing = np.zeros(0, dtype=ENGAGED_DTYPE), np.zeros(0)
    rows = np.zeros(0, dtype=np.int64)
    hazards = np.zeros((0, len(CAUSES)))
    plan = [
        (_rows_of, (rows, units, ground)),
        (move_and_stand, (engaged, nothing, False, units, ground)),
        (cells_changing_hands, (engaged, np.zeros(0, dtype=np.bool_), rows, ground.control)),
        (plan_substep, (engaged, units, support, rules, 1, nothing, nothing, *ground)),
    ]
    settle = [(settle_substep, (generator, nothing, nothing, hazards, nothing, False, nothing,
                                False, True, engaged, units, *tallies, rules, *ground))]
    return plan, settle


def signature_of(kernel, values: tuple) -> tuple:
    """The types ``kernel`` is compiled for when called with ``values``: numba's type
    of each, and of the tuple of those its ``*args`` takes."""
    fixed = kernel.py_func.__code__.co_argcount
    types = [numba.typeof(value) for value in values[:fixed]]
    if kernel.py_func.__code__.co_flags & inspect.CO_VARARGS:
        types.append(numba.typeof(tuple(values[fixed:])))
    return tuple(types)


def compile_jobs(jobs: list) -> None:
    """Compile the kernels of ``jobs`` (pairs of a kernel and its arguments), in order,
    for the types of those arguments (into numba's cache)."""
    for kernel, values in jobs:
        kernel.compile(signature_of(kernel, values))


def _fork_compiling(jobs: list) -> int | None:
    """A forked copy of this process that compiles the kernels of ``jobs`` (pairs of a
    kernel and its arguments) into numba's cache, in order, and exits; its pid, or None
    if there is no process to spare."""
    try:
        with warnings.catch_warnings():
            # Python 3.12 warns of any thread at a fork; numpy's BLAS keeps idle ones,
            # which the copy never calls.
            warnings.simplefilter("ignore", DeprecationWarning)
            pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the copy: compile, and leave without this process's exit handlers
        status = 1
        try:
            compile_jobs(jobs)
            status = 0
        finally:
            os._exit(status)
    return pid


def _start_helper() -> subprocess.Popen | None:
    try:
        return subprocess.Popen(
            [sys.executable, "-c", "from sim.model import kernels; kernels.compile_settle()"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            env=os.environ | {NO_HELPER_VARIABLE: "1"})
    except OSError:  # no process to spare: this one compiles everything
        return None


def await_compiled(name: str) -> None:
    """Before the first call of the entry point ``name``: wait for the helper compiling
    it (if one does) to have put it in the cache. Returns at once in every later
    sub-step."""
    helper = _helpers.pop(name, None)
    if helper is None:
        return
    if isinstance(helper, subprocess.Popen):
        try:
            helper.wait(HELPER_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            helper.kill()
            helper.wait()
        return
    deadline = time.monotonic() + HELPER_TIMEOUT_S
    try:
        while os.waitpid(helper, os.WNOHANG) == (0, 0):
            if time.monotonic() > deadline:
                os.kill(helper, signal.SIGKILL)
                os.waitpid(helper, 0)
                return
            time.sleep(0.01)
    except ChildProcessError:  # already reaped (a SIGCHLD handler of the caller's)
        pass


def compile_settle() -> None:
    """A helper process's work where no fork is made: settle_substep compiled into
    numba's cache for the types a small scenario's sub-step passes."""
    from sim.config import Scenario
    from sim.model.model import AttritionModel

    model = AttritionModel(Scenario(max_days=1), rng=0)
    compile_jobs(first_run_jobs(model.combat.kernel_inputs())[1])


def compile_kernels() -> None:
    """Compile every kernel (or load it from numba's cache), announced as above, by
    running a small scenario for a day: a sweep's driver does this before it starts its
    workers, so that they load the code instead of each compiling it."""
    from sim.config import Scenario
    from sim.model.model import AttritionModel

    AttritionModel(Scenario(max_days=1), rng=0).step()
