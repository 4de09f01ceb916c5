"""Pictures drawn in place: the front and the live charts, redrawn day by day on the
demo page (:mod:`sim.app`) and in animations (:mod:`sim.animation`), and drawn once on
any matplotlib axes (:func:`draw_front`, :func:`draw_live_charts`). The figures written
to files are in :mod:`sim.plots`."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from matplotlib.lines import Line2D
from matplotlib.ticker import MaxNLocator

from sim.publish import printable

if TYPE_CHECKING:
    from sim.model.records import FrontMap

# Okabe and Ito's palette: told apart with every common colour-vision deficiency, and
# dark and saturated enough to survive a washed-out projector.
SIDE_COLOURS = {"attacker": "#D55E00", "defender": "#0072B2"}
# Colours of contingents, by side: the first contingent of a side takes the side's colour.
CONTINGENT_PALETTES = {"attacker": ("#D55E00", "#E69F00", "#CC79A7", "#8C2D04"),
                       "defender": ("#0072B2", "#56B4E9", "#009E73", "#000000")}
# The live charts of the demo page and of animations, each answering one question:
# (title, y label, lines), each line (daily-record column, line style, label suffix).
LIVE_CHARTS = (
    ("How many in the line?", "persons fighting", (("personnel_fighting", "-", ""),)),
    ("How many killed?", "killed, cumulative", (("killed_total", "-", ""),)),
    ("How many recruits left?", "persons",
     (("pool", "-", "pool"), ("in_training", ":", "in training"))),
    ("Who loses more?", "attacker hit ÷ defender hit", ()),
)
#: Width of the live charts' lines, in points: thick enough to read from the back.
LINE_WIDTH = 3.0
LIVE_COLUMNS = ("personnel_fighting", "killed_total", "wounded_total", "pool",
                "in_training")
#: Longest legend label of the front: longer names are cut, so that the legend stays
#: inside its picture.
LEGEND_CHARS = 24


def plain(text: object) -> str:
    r"""``text`` as matplotlib draws it literally: every ``$`` escaped, so that user text
    (a scenario's or contingent's name, a parameter's value) never goes through mathtext,
    which would draw ``$x$`` as math and fail on ``$\foo$``, and control characters
    (line breaks included) shown as escapes (:func:`sim.publish.printable`). For titles,
    labels, legends and tick labels; matplotlib shows ``\$`` as ``$``.

    >>> print(plain(r"cost in $, $\foo$"))
    cost in \$, \$\foo\$
    """
    return printable(text).replace("$", r"\$")


def contingent_colours(contingents: list[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """A colour per (side, contingent), in the side's palette, in the order given."""
    colours, used = {}, {"attacker": 0, "defender": 0}
    for side, name in contingents:
        palette = CONTINGENT_PALETTES[side]
        colours[(side, name)] = palette[used[side] % len(palette)]
        used[side] += 1
    return colours


def _cut(text: str, chars: int) -> str:
    """``text`` cut to ``chars`` characters, an ellipsis marking the cut.

    >>> _cut("attacker: a very long contingent name", 20)
    'attacker: a very lo…'
    """
    return text if len(text) <= chars else text[:chars - 1] + "…"


def font_size(ax, text_px: float | None, relative: str) -> float | str:
    """A font size for text on ``ax``: ``text_px`` pixels (in points at its figure's
    dpi), or matplotlib's ``relative`` size when no pixel size is asked for."""
    if text_px is None:
        return relative
    return text_px * 72.0 / ax.figure.dpi


def thousands(value: float, _position=None) -> str:
    """A tick label short enough to read from the back: 950, 1.5k, 12k, 1.25M.

    >>> [thousands(v) for v in (950, 1_500, 12_000, 1_250_000, 0.5)]
    ['950', '1.5k', '12k', '1.25M', '0.5']
    """
    size = abs(value)
    if size >= 1e6:
        return f"{value / 1e6:.3g}M"
    if size >= 1e3:
        return f"{value / 1e3:.3g}k"
    return f"{value:.3g}"


class FrontView:
    """A front (:meth:`sim.AttritionModel.front_map`) drawn on ``ax`` and redrawn in
    place by :meth:`update`: who holds each cell (fortification darkens it), the
    fortified band, mines left, and the units in the sector coloured by side and
    contingent, with area proportional to personnel. Updating artists in place, not
    drawing anew, keeps the demo page's redraw and an animation's frames cheap."""

    # Control -1 neutral, 0 attacker, 1 defender.
    _SHADES = np.array([[0.91, 0.91, 0.91], [0.96, 0.71, 0.69], [0.70, 0.80, 0.89]])

    def __init__(self, ax, front: FrontMap, legend: bool = True,
                 text_px: float | None = None):
        self.ax = ax
        text = font_size(ax, text_px, "small")
        size = front.cell_size_m
        width, depth = front.control.shape
        extent = (0, width * size, 0, depth * size)
        self._darken = 1 - 0.35 * front.fortification.T[..., None]
        self._image = ax.imshow(self._cell_colours(front), origin="lower", extent=extent,
                                interpolation="nearest", aspect="auto")
        fortified_rows = np.flatnonzero(front.fortification.max(axis=0) > 0)
        band = []
        if fortified_rows.size:
            band.append(ax.axhspan(fortified_rows[0] * size, (fortified_rows[-1] + 1) * size,
                                   fill=False, hatch="//", edgecolor="0.3", linewidth=0.0,
                                   label="fortified band"))
        self._mines = ax.scatter([], [], marker="x", s=8, color="0.35", linewidths=0.6,
                                 label="mines left")
        self._colours = contingent_colours(front.contingents)
        # Not clipped by the axes: a unit in an edge cell is drawn whole.
        self._units = ax.scatter([], [], alpha=0.7, edgecolors="k", linewidths=0.3,
                                 clip_on=False)
        self._title = ax.text(0.5, 1.01, "", transform=ax.transAxes, ha="center",
                              va="bottom", fontsize=text)
        ax.set(xlim=extent[:2], ylim=extent[2:])
        ax.set_xlabel("along the front (m)", fontsize=font_size(ax, text_px, "medium"))
        ax.set_ylabel("depth from the attacker's rear (m)",
                      fontsize=font_size(ax, text_px, "medium"))
        ax.tick_params(labelsize=font_size(ax, text_px, "medium"))
        ax.xaxis.set_major_locator(MaxNLocator(4))
        ax.yaxis.set_major_locator(MaxNLocator(5))
        if legend:
            # Below the map, clear of what changes, so that it is drawn once.
            handles = [ax.scatter([], [], color=c, edgecolors="k", linewidths=0.3,
                                  label=plain(_cut(f"{side}: {name}", LEGEND_CHARS)))
                       for (side, name), c in self._colours.items()]
            # Under the axis label whatever the axes' height: the gap is in font sizes.
            ax.legend(handles=[*band, self._mines, *handles],
                      fontsize=font_size(ax, text_px, "x-small"), loc="upper center",
                      bbox_to_anchor=(0.5, 0.0), borderaxespad=3.2, ncol=2,
                      frameon=False, columnspacing=1.0, handletextpad=0.4)
        # What changes from day to day, and what lies on top of it, in drawing order;
        # the rest is drawn once (see BlitFigure). The ground (cells, band, mines)
        # changes on few days: it is redrawn only then.
        self.ground = [self._image, *band, self._mines]
        self.changing = [*self.ground, self._units, self._title]
        self._ground_now: tuple[bytes, bytes] | None = None
        self.update(front)

    def _cell_colours(self, front: FrontMap) -> np.ndarray:
        return self._SHADES[front.control.T + 1] * self._darken

    def update(self, front: FrontMap) -> bool:
        """Show ``front`` (a later front_map of the same run). Returns whether the
        ground (who holds the cells, the mines left) changed."""
        size = front.cell_size_m
        mined = front.mines > 0.5
        ground = (front.control.tobytes(), np.packbits(mined).tobytes())
        changed = ground != self._ground_now
        if changed:
            self._ground_now = ground
            self._image.set_data(self._cell_colours(front))
            xs, ys = np.nonzero(mined)
            self._mines.set_offsets(np.column_stack(((xs + 0.5) * size, (ys + 0.5) * size)))
        units = front.units
        self._units.set_offsets(np.column_stack(((units["x"].to_numpy() + 0.5) * size,
                                                 units["y_m"].to_numpy())))
        self._units.set_sizes(4 + units["personnel"].to_numpy() * 1.5)
        self._units.set_facecolors([self._colours.get((s, c), "0.5") for s, c in
                                    zip(units["side"], units["contingent"], strict=True)])
        taken = (front.control == 0) & (front.initial_control == 1)
        cells = int(taken.sum())
        self._title.set_text(f"Day {front.day}: {cells} cell{'s' if cells != 1 else ''} "
                             f"taken\n"
                             f"(red: attacker's ground, blue: defender's)")
        return changed


class ChartsView:
    """:data:`LIVE_CHARTS` on four axes, redrawn in place by :meth:`update` from a
    history: each of :data:`LIVE_COLUMNS` as a (days + 1, 2) array (attacker, defender).

    With ``span`` (a whole run's history), the axes are fixed to the whole run, so
    that the frames of an animation do not jump; without, they follow the data."""

    def __init__(self, axes, span: dict[str, np.ndarray] | None = None,
                 text_px: float | None = None, max_days: int | None = None):
        self.axes = list(np.ravel(axes))
        self._fixed = span is not None
        # The days axis never grows past the run's last possible day.
        self._max_days = max_days
        self._lines: list[tuple[Any, str, int]] = []
        for ax, (title, ylabel, lines) in zip(self.axes, LIVE_CHARTS, strict=True):
            text = font_size(ax, text_px, "x-small")
            for column, style, _ in lines:
                for s, side in enumerate(SIDE_COLOURS):
                    (line,) = ax.plot([], [], style, color=SIDE_COLOURS[side],
                                      label=side, linewidth=LINE_WIDTH)
                    self._lines.append((line, column, s))
            if not lines:
                (line,) = ax.plot([], [], color="k", label="attacker / defender",
                                  linewidth=LINE_WIDTH)
                self._lines.append((line, "loss_exchange_ratio", -1))
            ax.set_ylabel(ylabel, fontsize=text)
            ax.set_xlabel("day", fontsize=text)
            ax.tick_params(labelsize=text)
            ax.grid(alpha=0.3)
            # Few ticks, short labels: text is most of the cost of drawing these charts.
            ax.xaxis.set_major_locator(MaxNLocator(4, integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(4))
            ax.yaxis.set_major_formatter(thousands)
            # The legend above the plot, under the title: never over the data. With
            # several kinds of line, the sides by colour and the kinds by style.
            handles, _ = ax.get_legend_handles_labels()
            if len(lines) > 1:
                handles = handles[:len(SIDE_COLOURS)] + [
                    Line2D([], [], linestyle=style, color="0.25", linewidth=LINE_WIDTH,
                           label=suffix) for _, style, suffix in lines]
            ax.legend(handles=handles, fontsize=text, loc="lower left",
                      bbox_to_anchor=(0.0, 1.0), ncol=2, frameon=False, borderaxespad=0.1,
                      handlelength=1.6, columnspacing=1.0)
            # Above the legend's rows (two columns).
            rows = -(-len(handles) // 2)
            pad = (1.45 * rows + 0.4) * (text if text_px is not None else 9.0)
            ax.set_title(title, fontsize=font_size(ax, text_px and 1.1 * text_px, "small"),
                         loc="left", pad=pad, fontweight="bold")
        if span is not None:
            self._set_limits(span)

    def _series(self, history: dict[str, np.ndarray], column: str, side: int) -> np.ndarray:
        if column == "loss_exchange_ratio":
            return loss_exchange_series(history)
        return history[column][:, side]

    @property
    def changing(self) -> list:
        """What changes from day to day while the limits hold (see BlitFigure)."""
        return [line for line, _, _ in self._lines]

    def _tops(self, history: dict[str, np.ndarray]) -> list[float]:
        tops = []
        for ax in self.axes:
            top = 0.0
            for line, column, side in self._lines:
                if line.axes is ax:
                    values = self._series(history, column, side)
                    if np.isfinite(values).any():
                        top = max(top, float(np.nanmax(values)))
            tops.append(top)
        return tops

    def _set_limits(self, history: dict[str, np.ndarray]) -> None:
        days = len(history[LIVE_COLUMNS[0]])
        for ax, top in zip(self.axes, self._tops(history), strict=True):
            ax.set_xlim(0, max(1, days - 1))
            ax.set_ylim(0, max(1.0, top) * 1.05)

    def _grow_limits(self, history: dict[str, np.ndarray]) -> bool:
        """Widen an axis only when the data come near its end (the last tenth of it), to
        twice the data (days: doubling from 30, up to the run's last day), so that the
        axes, and their ticks, change on few days and a line never runs along the top."""
        changed = False
        days = len(history[LIVE_COLUMNS[0]]) - 1
        for ax, top in zip(self.axes, self._tops(history), strict=True):
            right, high = ax.get_xlim()[1], ax.get_ylim()[1]
            if days > right or right <= 1:
                right = 30.0
                while right < days:
                    right *= 2
                if self._max_days is not None:
                    right = max(min(right, self._max_days), days, 1)
                ax.set_xlim(0, right)
                changed = True
            if top > 0.9 * high or high <= 1:
                ax.set_ylim(0, max(1.0, top) * 2)
                changed = True
        return changed

    def update(self, history: dict[str, np.ndarray], last_day: int | None = None) -> bool:
        """Show ``history`` up to ``last_day`` (default: all of it). Returns whether the
        axes' limits changed (then the whole figure needs drawing)."""
        shown = len(history[LIVE_COLUMNS[0]]) if last_day is None else last_day + 1
        days = np.arange(shown)
        for line, column, side in self._lines:
            line.set_data(days, self._series(history, column, side)[:shown])
        if self._fixed:
            return False
        return self._grow_limits({k: v[:shown] for k, v in history.items()})


class BlitFigure:
    """PNG frames of a figure whose static parts (axes, ticks, labels, legends) are
    drawn once and whose ``changing`` artists are drawn over that background for each
    frame: the demo page's redraw then costs a few artists, not a whole figure.

        >>> from matplotlib.figure import Figure
        >>> fig = Figure(figsize=(2, 2)); ax = fig.add_subplot()
        >>> (line,) = ax.plot([0, 1], [0, 1])
        >>> frames = BlitFigure(fig, [line])
        >>> frames.png()[:4] == b"\\x89PNG"
        True
    """

    def __init__(self, figure, changing: list, ground: list = ()):
        from matplotlib.backends.backend_agg import FigureCanvasAgg

        self.figure = figure
        self.canvas = FigureCanvasAgg(figure)
        self.changing = list(changing)
        # The first of ``changing`` that change on few frames: kept as a second
        # background, redrawn only when asked (``ground_changed``).
        self.ground = list(ground)
        if self.changing[:len(self.ground)] != self.ground:
            raise ValueError("the ground must be the first of the changing artists")
        for artist in self.changing:
            artist.set_animated(True)  # left out of full draws
        self._background = None
        self._ground_background = None

    def png(self, redraw_all: bool = False, ground_changed: bool = True) -> bytes:
        """The figure now, as PNG; ``redraw_all`` after a change to the static parts,
        ``ground_changed`` after a change to the ground's artists."""
        from PIL import Image

        rgba = self.rgba(redraw_all, ground_changed)
        # Opaque, and drawn in few colours: 256 of them (a fast octree) hold every
        # pixel that matters, and the frame compresses in half the time to half the
        # bytes of full colour (the page sends one a step).
        image = Image.fromarray(rgba[..., :3]).quantize(256, method=Image.Quantize.FASTOCTREE)
        out = io.BytesIO()
        # Fast compression: speed beats bytes here.
        image.save(out, format="png", compress_level=1)
        return out.getvalue()

    def rgba(self, redraw_all: bool = False, ground_changed: bool = True) -> np.ndarray:
        """The figure now as a (height, width, 4) array, valid until the next frame is
        drawn (see :meth:`png` for the arguments)."""
        if redraw_all or self._background is None:
            self.canvas.draw()
            self._background = self.canvas.copy_from_bbox(self.figure.bbox)
            self._ground_background = None
        if ground_changed or self._ground_background is None:
            self.canvas.restore_region(self._background)
            for artist in self.ground:
                self.figure.draw_artist(artist)
            if self.ground:
                self._ground_background = self.canvas.copy_from_bbox(self.figure.bbox)
        else:
            self.canvas.restore_region(self._ground_background)
        for artist in self.changing[len(self.ground):]:
            self.figure.draw_artist(artist)
        return np.asarray(self.canvas.buffer_rgba())


def draw_front(ax, front: FrontMap, legend: bool = True) -> FrontView:
    """Draw a front on ``ax`` (see :class:`FrontView`)."""
    return FrontView(ax, front, legend)


def side_series(daily: pd.DataFrame, column: str) -> np.ndarray:
    """(days + 1, 2) array of one run's daily-record ``column`` for the attacker and
    the defender: the same as :meth:`sim.AttritionModel.side_history`."""
    rows = daily[daily["contingent"] == "all"]
    return rows.pivot(index="day", columns="side", values=column)[["attacker", "defender"]] \
        .to_numpy(dtype=float)


def loss_exchange_series(history: dict[str, np.ndarray]) -> np.ndarray:
    """Per day, cumulative attacker casualties (killed and wounded) over the defender's;
    NaN while the defender has none."""
    hit = history["killed_total"] + history["wounded_total"]
    return np.where(hit[:, 1] > 0, hit[:, 0] / np.maximum(hit[:, 1], 1), np.nan)


def draw_live_charts(axes, history: dict[str, np.ndarray]) -> ChartsView:
    """Draw :data:`LIVE_CHARTS` of a whole history on four axes (see :class:`ChartsView`)."""
    view = ChartsView(axes, span=history)
    view.update(history)
    return view


def live_chart_table(history: dict[str, np.ndarray], chart: int) -> pd.DataFrame:
    """The data behind :data:`LIVE_CHARTS` ``[chart]``, as the page exports it: ``day``,
    then a column per line (``attacker_personnel_fighting``, ``defender_pool``, ...; the loss
    exchange ratio's is ``loss_exchange_ratio``, empty while the defender has no
    casualties).

    >>> h = {c: np.array([[10.0, 8.0], [9.0, 6.0]]) for c in LIVE_COLUMNS}
    >>> live_chart_table(h, 0).to_dict("list")  # doctest: +NORMALIZE_WHITESPACE
    {'day': [0, 1], 'attacker_personnel_fighting': [10.0, 9.0],
     'defender_personnel_fighting': [8.0, 6.0]}
    """
    _, _, lines = LIVE_CHARTS[chart]
    table = {"day": np.arange(len(history[LIVE_COLUMNS[0]]))}
    if not lines:
        table["loss_exchange_ratio"] = loss_exchange_series(history)
    for column, _, _ in lines:
        for s, side in enumerate(SIDE_COLOURS):
            table[f"{side}_{column}"] = history[column][:, s]
    return pd.DataFrame(table)
