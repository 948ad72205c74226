"""Tracklets stitched over gaps into identities; with a known number of animals, exactly N.

Used when the number of animals is known (``animals = N > 0``); frame-to-frame linking then
gives *tracklets*, runs of consecutive frames of one object. The whole movie is handled from
their summaries only (first and last rows, a few numbers each), so memory does not grow with
the number of rows:

1. **Gap closing** (:func:`close_gaps`): the end of a tracklet ``a`` may be joined to the
   start of a later one ``b`` when the gap ``g = start(b) − end(a)`` is at most ``max_gap``
   frames, their mean areas differ by less than a factor ``area_ratio``, and the start of
   ``b`` lies within ``reach(g) = min(max_dist × g, speed × (slack + g))`` of where ``a``
   was heading (constant velocity over its last rows, extrapolated for at most ``horizon``
   frames; ``speed`` is the speed 90 % of the animals' tracklet ends stay under, measured
   from the tracklets). Cost:
   ``distance / reach(g) + gap_cost × (g − 1) / max_gap + turn_cost × |Δθ| / π`` (``Δθ``:
   the change of the body's direction across the gap), below 1; leaving an end unjoined
   costs 1. All joins are chosen as one assignment problem of least total cost
   (``scipy.optimize.linear_sum_assignment``), solved separately on each connected group of
   candidate joins.
2. **Identities** (:func:`keep_within_capacity`, :func:`assign_identities`): the joined
   tracklets (*chains*) are kept longest first, each tracklet only in frames that hold fewer
   than N kept objects (it keeps its longest such run; shorter tracklets overlapping N others
   are spurious and are dropped or trimmed). Then, in order of start, each kept tracklet
   takes one of the N identities free at that frame: its chain's, otherwise the one whose
   last position (extrapolated) is nearest relative to ``reach(g)`` (no limit on the gap
   here), or an unused one when none is within reach; tracklets starting in the same frame
   are assigned jointly (``scipy.optimize.linear_sum_assignment``).
3. **Gaps filled** (:func:`relabel`): in each frame of a gap of an identity (between two of
   its tracklets, or inside a tracklet where linking remembered a lost object) the position
   is interpolated linearly between the gap's two ends. A piece of a split blob (touching
   animals carry no tracklet) within a quarter of a body length of that position takes the
   identity (pieces and gaps of a frame matched jointly); otherwise, in a gap of at most
   ``max_fill`` frames, the interpolated row itself (angles along the shorter arc) is
   written, flagged as interpolated.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .link import linear_sum_assignment

__all__ = [
    "Identities",
    "StitchRules",
    "Tracklets",
    "assign_identities",
    "close_gaps",
    "interpolated_rows",
    "keep_within_capacity",
    "relabel",
    "trim",
    "typical_speed",
]

_N_FEATURES = 21
_FRAME, _ID = 21, 22
_FAR = 1e6  # cost of an assignment out of reach
_PIECE_REACH = 0.25  # a piece stands for an animal within this many body lengths
_OUT = 10.0  # cost of assigning a long tracklet out of reach
_X, _Y, _AREA, _LENGTH = 6, 7, 10, 18
_ANGLES = [2, 5, 8]
_ANGLE = 8  # tBody


@dataclass(frozen=True)
class StitchRules:
    """Gates of the stitching.

    Attributes
    ----------
    max_dist : float
        Largest distance (px) an animal moves in one frame.
    max_gap : int
        Longest gap (frames) closed by gap closing.
    max_fill : int
        Longest gap (frames) filled with interpolated rows.
    area_ratio : float
        Joined tracklets' mean areas differ by less than this factor.
    horizon : int
        Frames a position is extrapolated with its velocity, at most.
    speed : float, optional
        Typical speed of the animals (px/frame); measured from the tracklets if None
        (:func:`typical_speed`).
    min_speed : float
        Speeds below this count as this (px/frame).
    slack : float
        After a gap of ``g`` frames, the animal may be ``speed × (slack + g)`` px from its
        predicted position (at most ``max_dist × g``).
    gap_cost : float
        Cost of the longest gap, on top of the distance's (the cost of a join is below 1).
    turn_cost : float
        Cost of a half turn between the body's direction at the two ends (an animal keeps
        its heading through a short contact).
    """

    max_dist: float = 50.0
    max_gap: int = 20
    max_fill: int = 20
    area_ratio: float = 2.0
    horizon: int = 5
    speed: float | None = None
    min_speed: float = 1.0
    slack: float = 1.0
    gap_cost: float = 0.5
    turn_cost: float = 0.3


#: Rows kept at each end of a tracklet (velocities are measured over them).
ENDS = 5


class Tracklets:
    """Summaries of a movie's tracklets, accumulated from linked rows block after block.

    Rows come as written by linking: shape (K, 23), ordered by frame, column 22 the tracklet
    id (dense, from 0). For each tracklet the first and the last :data:`ENDS` rows are kept,
    with the number of rows and the sum of the areas, and the two rows around each frame it
    misses between its first and last (linking remembers lost objects ``maxTime`` frames).

    Examples
    --------
    >>> rows = np.zeros((3, 23)); rows[:, 21] = [0, 1, 2]; rows[:, 6] = [0, 1, 2]
    >>> t = Tracklets(); t.add(rows)
    >>> t.first_frame, t.last_frame, t.end_velocity()
    (array([0]), array([2]), array([[1., 0.]]))
    """

    def __init__(self) -> None:
        self.count = np.zeros(0, np.int64)
        self.area = np.zeros(0)
        self.head = np.zeros((0, ENDS, 23))  # first rows, in order
        self.tail = np.zeros((0, ENDS, 23))  # last rows, the last one at the end
        self._holes: list[np.ndarray] = []

    @property
    def holes(self) -> np.ndarray:
        """Rows around each gap inside a tracklet, shape (H, 2, 23) (before, after)."""
        return np.concatenate(self._holes) if self._holes else np.zeros((0, 2, 23))

    def __len__(self) -> int:
        return len(self.count)

    @property
    def first(self) -> np.ndarray:
        """First row of each tracklet, shape (T, 23)."""
        return self.head[:, 0]

    @property
    def last(self) -> np.ndarray:
        """Last row of each tracklet, shape (T, 23)."""
        return self.tail[:, -1]

    @property
    def first_frame(self) -> np.ndarray:
        return self.first[:, _FRAME].astype(np.int64)

    @property
    def last_frame(self) -> np.ndarray:
        return self.last[:, _FRAME].astype(np.int64)

    def extend(self, n: int) -> None:
        """Make room for ``n`` tracklets (those without rows have a count of 0)."""
        extra = n - len(self.count)
        if extra <= 0:
            return
        self.count = np.concatenate([self.count, np.zeros(extra, np.int64)])
        self.area = np.concatenate([self.area, np.zeros(extra)])
        self.head = np.concatenate([self.head, np.zeros((extra, ENDS, 23))])
        self.tail = np.concatenate([self.tail, np.zeros((extra, ENDS, 23))])

    def add(self, rows: np.ndarray) -> None:
        """Take one block of linked rows into account (blocks in frame order)."""
        rows = rows[rows[:, _ID] >= 0]  # pieces of split blobs (id -1) are no tracklet
        if len(rows) == 0:
            return
        ids = rows[:, _ID].astype(np.int64)
        self.extend(int(ids.max()) + 1)
        order = np.argsort(ids, kind="stable")  # by id, frame order kept within an id
        sorted_ids = ids[order]
        group_start = np.flatnonzero(np.r_[True, sorted_ids[1:] != sorted_ids[:-1]])
        sizes = np.diff(np.r_[group_start, len(ids)])
        rank = np.arange(len(ids)) - np.repeat(group_start, sizes)  # rank within the block
        in_block = np.repeat(sizes, sizes)
        self._find_holes(rows[order], sorted_ids, rank)
        overall = self.count[sorted_ids] + rank
        early = overall < ENDS
        self.head[sorted_ids[early], overall[early]] = rows[order[early]]
        # Shift each tracklet's tail by its number of new rows (up to ENDS), then fill it.
        unique, n_new = sorted_ids[group_start], np.minimum(sizes, ENDS)
        for shift in range(1, ENDS + 1):
            moved = unique[n_new == shift]
            if len(moved) and shift < ENDS:
                self.tail[moved, : ENDS - shift] = self.tail[moved, shift:]
        late = rank >= in_block - ENDS
        position = ENDS - in_block[late] + rank[late]
        self.tail[sorted_ids[late], position] = rows[order[late]]
        np.add.at(self.count, ids, 1)
        np.add.at(self.area, ids, rows[:, _AREA])

    def _find_holes(self, rows: np.ndarray, ids: np.ndarray, rank: np.ndarray) -> None:
        """Record the gaps inside tracklets; ``rows`` sorted by id, then frame."""
        before = np.where((rank == 0)[:, None], self.last[ids], np.roll(rows, 1, axis=0))
        known = (rank > 0) | (self.count[ids] > 0)
        hole = known & (rows[:, _FRAME] - before[:, _FRAME] > 1)
        if hole.any():
            self._holes.append(np.stack([before[hole], rows[hole]], axis=1))

    def end_velocity(self) -> np.ndarray:
        """Velocity (px/frame) of each tracklet over its last rows, shape (T, 2)."""
        n = np.minimum(self.count, ENDS)
        oldest = self.tail[np.arange(len(self)), ENDS - np.maximum(n, 1)]
        return _velocity(oldest, self.last, n)

    def start_velocity(self) -> np.ndarray:
        """Velocity (px/frame) of each tracklet over its first rows, shape (T, 2)."""
        n = np.minimum(self.count, ENDS)
        newest = self.head[np.arange(len(self)), np.maximum(n, 1) - 1]
        return _velocity(self.first, newest, n)

    def mean_area(self) -> np.ndarray:
        return self.area / np.maximum(self.count, 1)


def _velocity(a: np.ndarray, b: np.ndarray, count: np.ndarray) -> np.ndarray:
    """Body velocity from row ``a`` to row ``b`` (0 where the tracklet has one row)."""
    dt = b[:, _FRAME] - a[:, _FRAME]
    ok = (count >= 2) & (dt > 0)
    v = np.zeros((len(a), 2))
    v[ok] = (b[ok][:, [_X, _Y]] - a[ok][:, [_X, _Y]]) / dt[ok, None]
    return v


#: The animals' speed that sets how far they reach over a gap: this quantile of the speeds at
#: the ends of the tracklets (with the median, half of the animals' true moves were out of
#: reach: synthetic 50 fish IDF1 0.718 with the median, 0.761 with the 90th percentile).
SPEED_QUANTILE = 0.9


def typical_speed(t: Tracklets, quantile: float = SPEED_QUANTILE) -> float:
    """The ``quantile`` of the speeds (px/frame) at the end of the tracklets with at least
    :data:`ENDS` rows (0 when there is none)."""
    long = t.count >= ENDS
    if not long.any():
        return 0.0
    return float(np.quantile(np.hypot(*t.end_velocity()[long].T), quantile))


def _reach(gap: np.ndarray, speed: float, rules: StitchRules) -> np.ndarray:
    """How far (px) from its predicted position an animal may be after ``gap`` frames."""
    return np.minimum(rules.max_dist * gap, max(speed, rules.min_speed) * (rules.slack + gap))


def _candidate_joins(t: Tracklets, rules: StitchRules) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All allowed (end of a, start of b) joins with their costs."""
    start, end = t.first_frame, t.last_frame
    present = np.flatnonzero(t.count > 0)
    order = present[np.argsort(start[present], kind="stable")]
    sorted_start = start[order]
    velocity, area = t.end_velocity(), t.mean_area()
    speed = typical_speed(t) if rules.speed is None else rules.speed
    heads, tails, costs = [], [], []
    for a in present.tolist():
        lo = np.searchsorted(sorted_start, end[a] + 1)
        hi = np.searchsorted(sorted_start, end[a] + rules.max_gap, side="right")
        b = order[lo:hi]
        if len(b) == 0:
            continue
        gap = (start[b] - end[a]).astype(np.float64)
        predicted = t.last[a, [_X, _Y]] + velocity[a] * np.minimum(gap, rules.horizon)[:, None]
        d = np.hypot(*(t.first[b][:, [_X, _Y]] - predicted).T)
        ratio = np.maximum(area[a], area[b]) / np.maximum(np.minimum(area[a], area[b]), 1e-9)
        cost = d / _reach(gap, speed, rules) + rules.gap_cost * (gap - 1) / rules.max_gap
        turn = np.abs((t.first[b][:, _ANGLE] - t.last[a, _ANGLE] + np.pi) % (2 * np.pi) - np.pi)
        cost += rules.turn_cost * turn / np.pi
        ok = (cost < 1.0) & (ratio < rules.area_ratio)
        heads.append(np.full(int(ok.sum()), a))
        tails.append(b[ok])
        costs.append(cost[ok])
    if not heads:
        empty = np.empty(0, np.int64)
        return empty, empty, np.empty(0)
    return np.concatenate(heads), np.concatenate(tails), np.concatenate(costs)


def _solve_joins(cost: np.ndarray, allowed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Least-cost joins, each end free to stay unjoined at a cost of 1 (costs are < 1)."""
    n, m = cost.shape
    big = float(n + m + 1)
    full = np.full((n, m + n), big)
    full[:, :m] = np.where(allowed, cost, big)
    full[np.arange(n), m + np.arange(n)] = 1.0  # "this end stays unjoined"
    rows, cols = linear_sum_assignment(full)
    keep = cols < m
    return rows[keep], cols[keep]


def close_gaps(t: Tracklets, rules: StitchRules) -> np.ndarray:
    """Join tracklets over gaps (rule 1 of the module).

    Parameters
    ----------
    t : Tracklets
    rules : StitchRules

    Returns
    -------
    ndarray of int64, shape (T,)
        The tracklet that continues each tracklet, -1 for none.
    """
    following = np.full(len(t), -1, np.int64)
    heads, tails, costs = _candidate_joins(t, rules)
    if len(heads) == 0:
        return following
    from scipy.sparse import coo_matrix
    from scipy.sparse.csgraph import connected_components

    n = len(t)
    graph = coo_matrix((np.ones(len(heads)), (heads, tails + n)), shape=(2 * n, 2 * n))
    _, component = connected_components(graph, directed=False)
    groups = component[heads]
    order = np.argsort(groups, kind="stable")
    bounds = np.flatnonzero(np.diff(groups[order])) + 1
    for pairs in np.split(order, bounds):
        h, h_inv = np.unique(heads[pairs], return_inverse=True)
        s, s_inv = np.unique(tails[pairs], return_inverse=True)
        cost = np.zeros((len(h), len(s)))
        allowed = np.zeros((len(h), len(s)), bool)
        cost[h_inv, s_inv] = costs[pairs]
        allowed[h_inv, s_inv] = True
        rows, cols = _solve_joins(cost, allowed)
        following[h[rows]] = s[cols]
    return following


@dataclass
class Identities:
    """Outcome of the identity assignment.

    Attributes
    ----------
    identity : ndarray of int64, shape (T,)
        Identity (0 … N-1) of each tracklet; -1 for a dropped tracklet.
    gaps : ndarray of float64, shape (G, 2, 23)
        The two rows (last before, first after, identity set) around each gap of an identity.
    fill : ndarray of bool, shape (G,)
        Gaps short enough (``max_fill``) to be filled with interpolated rows.
    """

    identity: np.ndarray
    gaps: np.ndarray
    fill: np.ndarray


def _chains(following: np.ndarray) -> list[list[int]]:
    """Tracklets joined by ``following``, each chain in time order."""
    has_previous = np.zeros(len(following), bool)
    has_previous[following[following >= 0]] = True
    chains = []
    for head in np.flatnonzero(~has_previous).tolist():
        members = [head]
        while following[members[-1]] >= 0:
            members.append(int(following[members[-1]]))
        chains.append(members)
    return chains


def _longest_free_run(full: np.ndarray) -> tuple[int, int]:
    """(first, last) index of the longest run of False in ``full``; (-1, -2) if none."""
    free = np.r_[False, ~full, False].astype(np.int8)
    edges = np.flatnonzero(np.diff(free))
    if len(edges) == 0:
        return -1, -2
    starts, stops = edges[::2], edges[1::2]
    best = int(np.argmax(stops - starts))
    return int(starts[best]), int(stops[best]) - 1


def keep_within_capacity(t: Tracklets, following: np.ndarray, n_animals: int) -> np.ndarray:
    """Frames of each tracklet kept so that no frame holds more than ``n_animals`` objects.

    Chains are taken longest first (more rows first, then earlier start); each of their
    tracklets keeps its longest run of frames that still hold fewer than ``n_animals`` kept
    objects (all of it, usually).

    Parameters
    ----------
    t : Tracklets
    following : ndarray of int64, shape (T,)
        From :func:`close_gaps`.
    n_animals : int

    Returns
    -------
    ndarray of int64, shape (T, 2)
        First and last frame kept of each tracklet; (-1, -2) for a dropped one.
    """
    start, end = t.first_frame, t.last_frame
    chains = _chains(following)
    chains.sort(key=lambda c: (-int(t.count[c].sum()), int(start[c[0]]), c[0]))
    occupancy = np.zeros(int(end.max()) + 1 if len(t) else 0, np.int64)
    spans = np.tile(np.array([-1, -2], np.int64), (len(t), 1))
    for chain in chains:
        for member in chain:
            if t.count[member] == 0:
                continue
            lo, hi = _longest_free_run(occupancy[start[member] : end[member] + 1] >= n_animals)
            if hi >= lo:
                spans[member] = start[member] + lo, start[member] + hi
                occupancy[spans[member, 0] : spans[member, 1] + 1] += 1
    return spans


def trim(rows: np.ndarray, spans: np.ndarray) -> np.ndarray:
    """The rows (shape (K, 23), column 22 the tracklet id) within their tracklet's span;
    pieces of split blobs (id -1) are kept."""
    if len(rows) == 0:
        return rows
    piece = rows[:, _ID] < 0
    span = spans[np.where(piece, 0, rows[:, _ID]).astype(np.int64)]
    inside = (rows[:, _FRAME] >= span[:, 0]) & (rows[:, _FRAME] <= span[:, 1])
    return rows[piece | inside]


def assign_identities(
    t: Tracklets, following: np.ndarray, n_animals: int, rules: StitchRules
) -> Identities:
    """Give the tracklets at most ``n_animals`` identities (rules 2 and 3 of the module).

    Parameters
    ----------
    t : Tracklets
        Summaries of the tracklets trimmed by :func:`keep_within_capacity` (:func:`trim`);
        those without rows are left out.
    following : ndarray of int64, shape (T,)
        From :func:`close_gaps`.
    n_animals : int
        Number of identities (> 0).
    rules : StitchRules

    Returns
    -------
    Identities
    """
    identity = np.full(len(t), -1, np.int64)
    kept = t.count > 0
    previous = np.full(len(t), -1, np.int64)
    previous[following[following >= 0]] = np.flatnonzero(following >= 0)
    start, end = t.first_frame, t.last_frame
    v_end = t.end_velocity()
    speed = typical_speed(t) if rules.speed is None else rules.speed
    slot_last = np.full(n_animals, -1, np.int64)  # last tracklet of each identity
    candidates = np.flatnonzero(kept)
    candidates = candidates[np.argsort(start[candidates], kind="stable")]
    bounds = np.flatnonzero(np.diff(start[candidates])) + 1
    for group in np.split(candidates, bounds) if len(candidates) else []:
        frame = int(start[group[0]])
        used = slot_last >= 0
        free = np.flatnonzero(~used | (end[np.maximum(slot_last, 0)] < frame))
        if len(free) == 0:
            continue
        cost = np.ones((len(group), len(free)))  # an unused identity costs max_dist
        last = slot_last[free]
        old = last >= 0
        if old.any():
            gap = frame - end[last[old]]
            predicted = (t.last[last[old]][:, [_X, _Y]]
                         + v_end[last[old]] * np.minimum(gap, rules.horizon)[:, None])  # fmt: skip
            d = np.hypot(
                t.first[group][:, None, _X] - predicted[None, :, 0],
                t.first[group][:, None, _Y] - predicted[None, :, 1],
            )
            reach = _reach(gap.astype(np.float64), speed, rules)
            # Out of reach (a jump in the video, a long miss): still possible, but last.
            cost[:, old] = np.where(d < reach[None, :], d / reach[None, :], _OUT + d / reach)
        cost[previous[group][:, None] == last[None, :]] = -1.0  # the chain's own identity
        rows, cols = linear_sum_assignment(cost)
        ok = cost[rows, cols] < _FAR  # a tracklet out of every free identity's reach: dropped
        identity[group[rows[ok]]] = free[cols[ok]]
        slot_last[free[cols[ok]]] = group[rows[ok]]
    gaps = _gaps(t, identity)
    length = gaps[:, 1, _FRAME] - gaps[:, 0, _FRAME] - 1
    return Identities(identity, gaps, length <= rules.max_fill)


def _gaps(t: Tracklets, identity: np.ndarray) -> np.ndarray:
    """Row pairs around each gap within one identity."""
    kept = np.flatnonzero(identity >= 0)
    kept = kept[np.lexsort((t.first_frame[kept], identity[kept]))]
    same = identity[kept[1:]] == identity[kept[:-1]]
    gap = t.first_frame[kept[1:]] - t.last_frame[kept[:-1]] - 1
    between = same & (gap >= 1)
    pairs = np.stack([t.last[kept[:-1][between]], t.first[kept[1:][between]]], axis=1)
    holes = t.holes
    holes = holes[identity[holes[:, 0, _ID].astype(np.int64)] >= 0]
    gaps = np.concatenate([pairs.reshape(-1, 2, 23), holes])
    gaps[:, :, _ID] = identity[gaps[:, 1, _ID].astype(np.int64)][:, None]
    return gaps


def interpolated_rows(gaps: np.ndarray, first: int, stop: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows interpolated inside gaps, for frames ``first <= k < stop``.

    Parameters
    ----------
    gaps : ndarray, shape (G, 2, 23)
        From :attr:`Identities.gaps`.
    first, stop : int
        Frame range.

    Returns
    -------
    rows : ndarray of float64, shape (K, 23)
        Rows of the missing frames, linear between the two ends (angles along the shorter
        arc), unordered.
    gap : ndarray of intp, shape (K,)
        The gap each row fills.
    """
    a, b = gaps[:, 0], gaps[:, 1]
    lo = np.maximum(a[:, _FRAME] + 1, first)
    hi = np.minimum(b[:, _FRAME], stop)
    n = np.maximum(hi - lo, 0).astype(np.int64)
    if n.sum() == 0:
        return np.zeros((0, 23)), np.zeros(0, np.intp)
    which = np.repeat(np.arange(len(gaps)), n)
    frame = np.repeat(lo, n) + np.arange(n.sum()) - np.repeat(np.cumsum(n) - n, n)
    w = ((frame - a[which, _FRAME]) / (b[which, _FRAME] - a[which, _FRAME]))[:, None]
    rows = a[which] + w * (b[which] - a[which])
    turn = (b[which][:, _ANGLES] - a[which][:, _ANGLES] + np.pi) % (2 * np.pi) - np.pi
    rows[:, _ANGLES] = (a[which][:, _ANGLES] + w * turn) % (2 * np.pi)
    rows[:, _FRAME] = frame
    rows[:, _ID] = a[which, _ID]
    return rows, which


def _match_pieces(
    pieces: np.ndarray, expected: np.ndarray, max_dist: float
) -> tuple[np.ndarray, np.ndarray]:
    """Pieces matched to the expected rows of the same frame (body distance < ``max_dist``)."""
    matched_piece, matched_expected = [], []
    frames = np.intersect1d(pieces[:, _FRAME], expected[:, _FRAME])
    # each frame's rows, in increasing order, from the rows sorted by frame (stable)
    by_piece = np.argsort(pieces[:, _FRAME], kind="stable")
    by_expected = np.argsort(expected[:, _FRAME], kind="stable")
    piece_frames, expected_frames = pieces[by_piece, _FRAME], expected[by_expected, _FRAME]
    piece_bounds = zip(
        np.searchsorted(piece_frames, frames, "left").tolist(),
        np.searchsorted(piece_frames, frames, "right").tolist(),
    )
    expected_bounds = zip(
        np.searchsorted(expected_frames, frames, "left").tolist(),
        np.searchsorted(expected_frames, frames, "right").tolist(),
    )
    for (p0, p1), (e0, e1) in zip(piece_bounds, expected_bounds, strict=True):
        p, e = by_piece[p0:p1], by_expected[e0:e1]
        d = np.hypot(
            pieces[p][:, None, _X] - expected[e][None, :, _X],
            pieces[p][:, None, _Y] - expected[e][None, :, _Y],
        )
        gate = np.minimum(max_dist, _PIECE_REACH * expected[e][None, :, _LENGTH])
        big = float(d.max()) * (len(p) + len(e)) + 1.0
        rows, cols = linear_sum_assignment(np.where(d < gate, d, big))
        ok = d[rows, cols] < np.broadcast_to(gate, d.shape)[rows, cols]
        matched_piece.append(p[rows[ok]])
        matched_expected.append(e[cols[ok]])
    if not matched_piece:
        empty = np.zeros(0, np.intp)
        return empty, empty
    return np.concatenate(matched_piece), np.concatenate(matched_expected)


def relabel(
    rows: np.ndarray,
    identities: Identities,
    first: int,
    stop: int,
    *,
    max_dist: float,
) -> tuple[np.ndarray, np.ndarray]:
    """The final rows of frames ``first <= k < stop``: identities, pieces, interpolation.

    Rows of kept tracklets take their identity. In every gap of an identity, the piece of a
    split blob nearest to the position interpolated for that frame (within ``max_dist``,
    pieces and gaps of one frame matched jointly) takes the identity; a gap frame without
    such a piece gets the interpolated row, if the gap is short enough to fill.

    Parameters
    ----------
    rows : ndarray, shape (K, 23)
        Linked rows of these frames (column 22: tracklet id, -1 for pieces), trimmed
        (:func:`trim`).
    identities : Identities
    first, stop : int
        Frame range of ``rows``; gaps are filled in that range.
    max_dist : float
        Largest distance (px) between a piece and the interpolated position it stands for.

    Returns
    -------
    rows : ndarray, shape (K', 23)
        Ordered by frame, then identity.
    interpolated : ndarray of bool, shape (K',)
    """
    piece = rows[:, _ID] < 0
    out = rows[~piece].copy()
    out[:, _ID] = identities.identity[out[:, _ID].astype(np.int64)]
    out = out[out[:, _ID] >= 0]
    expected, gap = interpolated_rows(identities.gaps, first, stop)
    pieces = rows[piece]
    used_piece, used_expected = _match_pieces(pieces, expected, max_dist)
    found = pieces[used_piece]
    found[:, _ID] = expected[used_expected, _ID]
    rest = np.ones(len(expected), bool)
    rest[used_expected] = False
    filled = expected[rest & identities.fill[gap]]
    both = np.concatenate([out, found, filled])
    flag = np.r_[np.zeros(len(out) + len(found), bool), np.ones(len(filled), bool)]
    order = np.lexsort((both[:, _ID], both[:, _FRAME]))
    return both[order], flag[order]
