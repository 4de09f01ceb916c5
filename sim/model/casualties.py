"""Casualties (ODD 7.4-7.6), compiled with numba: the sub-step's casualties drawn, split
into killed, returning wounded and permanently lost, booked on the units (morale falls,
units break or are destroyed), and the mines set off or cleared taken off their cells.

Like :mod:`sim.model.kernels`, whose records these functions take, each does in one
loop what numpy array expressions did, with the same numbers bit for bit; the draws come
from the model's numpy Generator in the order of numpy's vectorised draws.
"""

from __future__ import annotations

import ctypes

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

from sim.model.morale import breaks, morale_after_losses
from sim.model.physics import MINES, draw_by_cause, split_wounded
from sim.model.units import DESTROYED, IS_FIGHTING, ROUTED

_GENERATOR = types.NumPyRandomGeneratorType("generator")
_BIT_GENERATOR = types.NumPyRandomBitGeneratorType("bit_generator")


def generator_addresses(rng: np.random.Generator) -> np.ndarray:
    """The addresses a compiled sub-step draws from ``rng`` through
    (:func:`generator_at`): its bit generator's state and its functions, which stay
    where they are while ``rng`` lives (the caller keeps it).

    numba reads them itself when handed a Generator, through ctypes, at about 17 us a
    call: more than the rest of a sub-step's dispatch, 24 times a day. Read once, they
    cost nothing; the draws are the same, from the same state."""
    bound = rng.bit_generator.ctypes

    def address(function) -> int:
        return ctypes.cast(function, ctypes.c_void_p).value

    return np.array([bound.state_address, bound.state.value, address(bound.next_uint64),
                     address(bound.next_uint32), address(bound.next_double),
                     bound.bit_generator.value], dtype=np.uint64)


@intrinsic
def generator_at(typingctx, addresses):
    """A numba Generator drawing from the bit generator at ``addresses``
    (:func:`generator_addresses`): what numba builds from a Generator passed in, in the
    same layout, without a reference to the Python object (the caller keeps it)."""
    if not (isinstance(addresses, types.Array) and addresses.dtype == types.uint64):
        return None

    def codegen(context, builder, signature, args):
        array = context.make_array(signature.args[0])(context, builder, args[0])

        def at(k):
            return builder.load(cgutils.gep(builder, array.data, k))

        bit_generator = cgutils.create_struct_proxy(_BIT_GENERATOR)(context, builder)
        bit_generator.parent = cgutils.get_null_value(bit_generator.parent.type)
        bit_generator.state_address = at(0)
        bit_generator.state = at(1)
        bit_generator.fnptr_next_uint64 = at(2)
        bit_generator.fnptr_next_uint32 = at(3)
        bit_generator.fnptr_next_double = at(4)
        bit_generator.bit_generator = at(5)
        generator = cgutils.create_struct_proxy(_GENERATOR)(context, builder)
        generator.bit_generator = bit_generator._getvalue()
        # No meminfo (NRT skips a null one) and no parent: nothing to keep alive here.
        generator.meminfo = cgutils.get_null_value(generator.meminfo.type)
        generator.parent = cgutils.get_null_value(generator.parent.type)
        return generator._getvalue()

    return _GENERATOR(addresses), codegen


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def resolve_casualties(rng, probability, hazards, removed, any_clearing, engaged, units,
                       tallies, ground, rules):
    """The sub-step's casualties (ODD 7.4-7.6): drawn with each person's
    ``probability`` and split by cause (:func:`sim.model.physics.draw_by_cause`), split into
    killed and wounded (:func:`sim.model.physics.split_wounded`), booked
    (:func:`book_casualties`), and the mines set off or ``removed`` by clearing taken off
    their cells (:func:`remove_mines`). The draws come from ``rng``, numpy's Generator,
    in the order of numpy's vectorised draws. ``units`` is the model's unit column
    store, written through ``engaged.index``; ``tallies`` (:class:`Tallies`) the rest
    the casualties add to.

    Returns the units (indices into the model's columns) routed and destroyed.
    """
    hit, by_cause = draw_by_cause(rng, engaged.personnel, probability, hazards)
    broken = destroyed = np.empty(0, dtype=np.int64)
    n_hit, causes = by_cause.shape
    casualties = np.empty(n_hit, dtype=np.int64)
    mine_casualties = np.empty(n_hit, dtype=np.int64)
    killed_fraction = np.empty(n_hit)
    return_fraction = np.empty(n_hit)
    any_mine_casualties = False
    for j in range(n_hit):
        total = 0
        for k in range(causes):
            total += by_cause[j, k]
        casualties[j] = total
        mine_casualties[j] = by_cause[j, MINES]
        any_mine_casualties |= mine_casualties[j] != 0
        killed_fraction[j] = engaged[hit[j]].killed_fraction
        return_fraction[j] = engaged[hit[j]].return_fraction
    if n_hit:
        killed, returning, permanently_lost = split_wounded(rng, casualties, killed_fraction,
                                                            return_fraction)
        broken, destroyed = book_casualties(
            hit, by_cause, casualties, killed, returning, permanently_lost, engaged, units,
            tallies, rules)
    if any_clearing or any_mine_casualties:
        remove_mines(removed, hit, mine_casualties, engaged.cell, ground)
    return broken, destroyed


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def book_casualties(hit, by_cause, casualties, killed, returning, permanently_lost, engaged,
                    units, tallies, rules):
    """Book the casualties of the units ``hit`` (positions among the ``engaged``; the
    rows of ``by_cause``, ``casualties`` (their totals), ``killed``, ``returning`` and
    ``permanently_lost`` match)
    (ODD 7.5, 7.6): killed, wounded who return after their delay, wounded permanently lost,
    the training days lost with the dead and the permanently lost, morale, and who
    breaks or is destroyed (their states are set). Personnel and states change in the
    column store ``units`` and among the ``engaged`` alike.

    Returns the units (indices into the model's columns) routed and destroyed, in the
    order hit.
    """
    index, side, personnel, state = engaged.index, engaged.side, engaged.personnel, engaged.state
    return_delay, training_days = engaged.return_delay_days, engaged.training_days
    break_morale = engaged.break_morale
    u_personnel, u_killed, u_wounded = units.personnel, units.killed, units.wounded
    u_permanently_lost, u_in_care = units.permanently_lost, units.in_care
    u_casualties_today, u_morale, u_state = units.casualties_today, units.morale, units.state
    care_ring, casualties_by_cause = tallies.care_ring, tallies.casualties_by_cause
    r = rules[0]
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
        before = personnel[i]
        after = before - casualties[j]
        personnel[i] = u_personnel[unit] = after
        u_killed[unit] += killed[j]
        u_wounded[unit] += returning[j] + permanently_lost[j]
        u_permanently_lost[unit] += permanently_lost[j]
        u_in_care[unit] += returning[j]
        u_casualties_today[unit] += casualties[j]
        care_ring[unit, (r.day + return_delay[i]) % ring_days] += returning[j]
        lost_days[s] += (killed[j] + permanently_lost[j]) * training_days[i]
        # Morale (7.6): losing a share f of the unit costs sensitivity x f.
        morale = morale_after_losses(u_morale[unit], casualties[j], before,
                                     r.morale_loss_per_casualty_fraction)
        u_morale[unit] = morale
        if after == 0:
            destroyed[n_destroyed] = i
            n_destroyed += 1
        elif (r.morale_enabled and IS_FIGHTING[state[i]]
              and breaks(morale, break_morale[i])):
            broken[n_broken] = i
            n_broken += 1
    # A loop, not ``[:] +=``: the same sums, without the shape check and its message that
    # numba would compile (2.5 s of a machine's first run).
    for s in range(lost_days.size):
        tallies.training_days_lost[s] += lost_days[s]
    # Their states, in the column store and among the units in the sector; returned as
    # rows of the column store.
    for j in range(n_broken):
        state[broken[j]] = u_state[index[broken[j]]] = ROUTED
        broken[j] = index[broken[j]]
    for j in range(n_destroyed):
        state[destroyed[j]] = u_state[index[destroyed[j]]] = DESTROYED
        destroyed[j] = index[destroyed[j]]
    return broken[:n_broken], destroyed[:n_destroyed]


@njit(cache=True, no_cpython_wrapper=True, no_cfunc_wrapper=True)
def remove_mines(removed, hit, mine_casualties, cells, ground):
    """Mines leave their cells (ODD 7.4): those ``removed`` by clearing (per unit in the
    sector) and one for each mine casualty of the units ``hit``; totals per cell, added
    in unit order, then taken off the cell (never below zero)."""
    mines, cell_scratch = ground.mines, ground.cell_scratch
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
