"""Identity metrics: how well a tracking result keeps the identities of a ground truth.

Both tables follow batchtrack's schema (FastTrack's 23-column table); only ``imageNumber``,
``id``, ``xBody`` and ``yBody`` are used. Three families of numbers are computed:

- CLEAR MOT counts (Bernardin & Stiefelhagen 2008): per-frame matches, misses, false
  positives, identity switches and fragmentations;
- identity measures (Ristani et al. 2016): IDTP, IDP, IDR, IDF1;
- MOTA, derived from the counts above;
- trajectory counts (Li, Huang & Nevatia 2009): ground-truth trajectories mostly tracked
  (matched in at least 80 % of their frames), mostly lost (at most 20 %), partially tracked.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.optimize import linear_sum_assignment
from scipy.spatial import cKDTree

from .errors import InputError, ParameterError
from .io.results import read_tracking

__all__ = ["IdentityScore", "identity_score", "judged_rows", "read_tracking"]

_COLUMNS = ("imageNumber", "id", "xBody", "yBody")


@dataclass(frozen=True)
class IdentityScore:
    """Identity metrics of a tracking result against a ground truth.

    Attributes
    ----------
    switches : int
        Identity switches: times a ground-truth object is matched to a result id other
        than the one it was last matched to (CLEAR MOT).
    fragmentations : int
        Times a ground-truth trajectory stops being matched and is matched again later.
    idf1, idp, idr : float
        Identity F1 score, precision and recall (Ristani et al. 2016); NaN when undefined
        (no detection at all on the side of the denominator).
    idtp : int
        Identity true positives: detections matched under the best one-to-one mapping
        between ground-truth ids and result ids.
    matches, misses, false_positives : int
        Per-frame matches, unmatched ground-truth detections, unmatched result detections.
    n_gt, n_result : int
        Number of detections (rows) in the ground truth and in the result.
    mostly_tracked, partially_tracked, mostly_lost : int
        Ground-truth trajectories matched (per-frame matches, whatever the result id) in at
        least 80 % of their frames, in between, and in at most 20 %.
    """

    switches: int
    fragmentations: int
    idf1: float
    idp: float
    idr: float
    idtp: int
    matches: int
    misses: int
    false_positives: int
    n_gt: int
    n_result: int
    mostly_tracked: int = 0
    partially_tracked: int = 0
    mostly_lost: int = 0

    @property
    def mota(self) -> float:
        """Tracking accuracy, ``1 - (misses + false_positives + switches) / n_gt``."""
        return _ratio(self.n_gt - self.misses - self.false_positives - self.switches, self.n_gt)

    def __str__(self) -> str:
        return (
            f"IDF1 {self.idf1:.4f} (IDP {self.idp:.4f}, IDR {self.idr:.4f}, IDTP {self.idtp}), "
            f"{self.switches} switches, {self.fragmentations} fragmentations, "
            f"{self.matches} matches, {self.misses} misses, "
            f"{self.false_positives} false positives, "
            f"MOTA {self.mota:.4f} ({self.n_gt} truth / {self.n_result} result detections), "
            f"MT/PT/ML {self.mostly_tracked}/{self.partially_tracked}/{self.mostly_lost}"
        )


def identity_score(
    result: pd.DataFrame, truth: pd.DataFrame, *, max_distance: float = 10.0
) -> IdentityScore:
    """Compare a tracking result with a ground truth by body position and identity.

    Per frame, ground-truth and result objects are matched one to one as in CLEAR MOT
    (Bernardin & Stiefelhagen 2008, as implemented by py-motmetrics): a pair is a
    candidate when both are in the frame and their body positions are at most
    ``max_distance`` apart (Euclidean, inclusive). A ground-truth object first keeps the
    result id it was last matched to (in any earlier frame) if that id is still a
    candidate; the other candidates are assigned with
    ``scipy.optimize.linear_sum_assignment``, most matches first, then least total
    distance. From these matches: ``matches`` (all matched pairs, switches included),
    misses, false positives, switches (a ground-truth id matched to a result id other than
    its last one) and fragmentations.

    IDF1 follows the standard definition of Ristani et al. (2016), independent of the
    per-frame matching: a ground-truth id and a result id co-occur in a frame when both
    are present and their body positions are at most ``max_distance`` apart; the ids are
    mapped one to one so as to maximise the number of co-occurrences (IDTP), and
    ``IDF1 = 2 IDTP / (n_gt + n_result)``, ``IDP = IDTP / n_result``, ``IDR = IDTP / n_gt``.

    Parameters
    ----------
    result : pandas.DataFrame, shape (n_result, >= 4)
        Tracking to evaluate, with columns ``imageNumber``, ``id``, ``xBody``, ``yBody``.
    truth : pandas.DataFrame, shape (n_gt, >= 4)
        Ground truth, same columns. Ids of the two tables need not share labels.
    max_distance : float, optional
        Largest distance (px) between a ground-truth object and a result object that
        can be a match. Finite and > 0.

    Returns
    -------
    IdentityScore

    Raises
    ------
    InputError
        If a table misses a column, holds non-finite positions, or has an id twice in a frame.
    ParameterError
        If ``max_distance`` is not finite and > 0.

    Examples
    --------
    >>> t = pd.DataFrame({"imageNumber": [0, 0, 1, 1], "id": [0, 1, 0, 1],
    ...                   "xBody": [0.0, 50.0, 1.0, 51.0], "yBody": [0.0, 0.0, 0.0, 0.0]})
    >>> identity_score(t.assign(id=t["id"] + 7), t).idf1
    1.0
    """
    if not (np.isfinite(max_distance) and max_distance > 0):
        raise ParameterError(
            f"max_distance must be a finite number > 0 (px), got {max_distance!r}; "
            "give e.g. max_distance=10.0"
        )
    res_frame, res_id, res_xy = _columns(result, "result")
    gt_frame, gt_id, gt_xy = _columns(truth, "truth")
    n_gt, n_res = len(gt_id), len(res_id)
    # Dense integer codes: frames in time order, ids in label order.
    _, rank = np.unique(np.concatenate([gt_frame, res_frame]), return_inverse=True)
    gt_rank, res_rank = rank[:n_gt], rank[n_gt:]
    gt_code = np.unique(gt_id, return_inverse=True)[1]
    res_code = np.unique(res_id, return_inverse=True)[1]

    gi, ri, dist = _candidate_pairs(gt_rank, gt_xy, res_rank, res_xy, max_distance)
    match_g, match_r = _match(gi, ri, dist, gt_rank, gt_code, res_code)

    switches = _count_switches(gt_code[match_g], res_code[match_r], gt_rank[match_g])
    matched = np.zeros(n_gt, dtype=bool)
    matched[match_g] = True
    fragmentations = _count_fragmentations(gt_code, gt_rank, matched)
    idtp = _idtp(gt_code[gi], res_code[ri])

    n_match = len(match_g)
    return IdentityScore(
        switches=switches,
        fragmentations=fragmentations,
        idf1=_ratio(2 * idtp, n_gt + n_res),
        idp=_ratio(idtp, n_res),
        idr=_ratio(idtp, n_gt),
        idtp=idtp,
        matches=n_match,
        misses=n_gt - n_match,
        false_positives=n_res - n_match,
        n_gt=n_gt,
        n_result=n_res,
        **_trajectory_counts(gt_code, matched),
    )


def judged_rows(
    result: pd.DataFrame,
    truth: pd.DataFrame,
    *,
    animals: int | None = None,
    max_distance: float = 10.0,
) -> pd.DataFrame:
    """The rows of a result that a ground truth annotated only in part can judge.

    A reference made by correcting a tracker's output (FastTrack's ``reference_tracking.txt``
    of zebrafish-100) has no row for an animal the tracker did not detect: where two fish
    touch, the frame has 13 rows for 14 fish. A result that finds that fish has a row there
    which the reference cannot call right or wrong, and :func:`identity_score` counts it as
    a false positive. As benchmarks do with objects nobody annotated ("don't care"), these
    rows are left out: in a frame where the truth has fewer than ``animals`` rows, a result
    row is kept only if it lies within ``max_distance`` of a truth row; frames where the
    truth is complete keep every row (a surplus there is a real false positive).

    Parameters
    ----------
    result, truth : pandas.DataFrame
        As for :func:`identity_score`.
    animals : int, optional
        Animals in the movie; the truth's number of ids by default.
    max_distance : float
        The gate of :func:`identity_score` (px).

    Returns
    -------
    pandas.DataFrame
        The rows of ``result`` kept, in their order.

    Examples
    --------
    >>> truth = pd.DataFrame({"imageNumber": [0, 0, 1], "id": [0, 1, 0],
    ...                       "xBody": [0.0, 50.0, 1.0], "yBody": [0.0, 0.0, 0.0]})
    >>> found = pd.DataFrame({"imageNumber": [0, 0, 1, 1], "id": [0, 1, 0, 1],
    ...                       "xBody": [0.0, 50.0, 1.0, 52.0], "yBody": [0.0] * 4})
    >>> len(judged_rows(found, truth))  # frame 1: the second fish is not annotated
    3
    """
    res_frame, _, res_xy = _columns(result, "result")
    gt_frame, gt_id, gt_xy = _columns(truth, "truth")
    animals = len(np.unique(gt_id)) if animals is None else animals
    frames, counts = np.unique(gt_frame, return_counts=True)
    complete = np.isin(res_frame, frames[counts >= animals])
    _, rank = np.unique(np.concatenate([gt_frame, res_frame]), return_inverse=True)
    _, near_rows, _ = _candidate_pairs(
        rank[: len(gt_frame)], gt_xy, rank[len(gt_frame) :], res_xy, max_distance
    )
    near = np.zeros(len(res_frame), bool)
    near[near_rows] = True
    return result[complete | near]


def _trajectory_counts(gt_code: np.ndarray, matched: np.ndarray) -> dict[str, int]:
    """Mostly tracked / partially tracked / mostly lost ground-truth trajectories."""
    if len(gt_code) == 0:
        return {"mostly_tracked": 0, "partially_tracked": 0, "mostly_lost": 0}
    ratio = np.bincount(gt_code, weights=matched) / np.bincount(gt_code)
    mostly, lost = int(np.sum(ratio >= 0.8)), int(np.sum(ratio <= 0.2))
    return {
        "mostly_tracked": mostly,
        "partially_tracked": len(ratio) - mostly - lost,
        "mostly_lost": lost,
    }


def _ratio(num: float, den: float) -> float:
    return float(num) / den if den else float("nan")


def _columns(table: pd.DataFrame, name: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Frame labels, ids and body positions (shape (n, 2)) of a table, validated."""
    missing = [c for c in _COLUMNS if c not in table.columns]
    if missing:
        raise InputError(
            f"{name} table lacks column(s) {missing}; it needs {list(_COLUMNS)} "
            "(FastTrack's tracking.txt columns)"
        )
    xy = table[["xBody", "yBody"]].to_numpy(dtype=np.float64)
    bad = ~np.isfinite(xy).all(axis=1)
    if bad.any():
        raise InputError(
            f"{name} table has {int(bad.sum())} row(s) with a non-finite xBody/yBody "
            f"(first at row {int(np.argmax(bad))}); drop or fix them before scoring"
        )
    dup = table.duplicated(["imageNumber", "id"]).to_numpy()
    if dup.any():
        row = table.iloc[int(np.argmax(dup))]
        raise InputError(
            f"{name} table has {int(dup.sum())} duplicated (imageNumber, id) row(s), "
            f"e.g. imageNumber {row['imageNumber']}, id {row['id']}; "
            "each id may appear once per frame"
        )
    return table["imageNumber"].to_numpy(), table["id"].to_numpy(), xy


def _candidate_pairs(
    gt_rank: np.ndarray,
    gt_xy: np.ndarray,
    res_rank: np.ndarray,
    res_xy: np.ndarray,
    max_distance: float,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All (truth row, result row, distance) in the same frame at most ``max_distance`` apart.

    Frame ranks become a third coordinate spaced more than ``max_distance`` apart, so a
    single k-d tree query finds the same-frame pairs of every frame at once.
    """
    if len(gt_rank) == 0 or len(res_rank) == 0:
        return np.empty(0, dtype=np.intp), np.empty(0, dtype=np.intp), np.empty(0)
    step = 4.0 * max_distance
    tree_gt = cKDTree(np.column_stack([gt_xy, gt_rank * step]))
    tree_res = cKDTree(np.column_stack([res_xy, res_rank * step]))
    pairs = tree_gt.sparse_distance_matrix(tree_res, max_distance, output_type="ndarray")
    return pairs["i"].astype(np.intp), pairs["j"].astype(np.intp), pairs["v"]


def _match(
    gi: np.ndarray,
    ri: np.ndarray,
    dist: np.ndarray,
    gt_rank: np.ndarray,
    gt_code: np.ndarray,
    res_code: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """CLEAR MOT matches among candidate pairs; returns (truth rows, result rows).

    A pair whose two ends have no other candidate is a match outright. The other pairs
    are solved frame by frame in time order: a truth object keeps the result id it was
    last matched to when that id is still a candidate, the rest go to
    ``linear_sum_assignment``.
    """
    n_gt, n_res = len(gt_rank), len(res_code)
    alone = (np.bincount(gi, minlength=n_gt)[gi] == 1) & (np.bincount(ri, minlength=n_res)[ri] == 1)
    out_g, out_r = [gi[alone]], [ri[alone]]
    amb = np.flatnonzero(~alone)
    if len(amb) == 0:
        return out_g[0], out_r[0]
    amb = amb[np.argsort(gt_rank[gi[amb]], kind="stable")]
    g_all, r_all, d_all = gi[amb], ri[amb], dist[amb]
    # Last match of each pair's truth object among the unambiguous matches (frame, result id).
    prev_frame, prev_res = _previous_match(
        gt_code[g_all], gt_rank[g_all], gt_code[out_g[0]], gt_rank[out_g[0]], res_code[out_r[0]]
    )
    # Last match of each truth id among the ambiguous frames solved so far.
    last_frame = np.full(int(gt_code.max()) + 1, -1, dtype=np.int64)
    last_res = np.full_like(last_frame, -1)
    frames = gt_rank[g_all]
    for s in np.split(np.arange(len(amb)), np.flatnonzero(np.diff(frames)) + 1):
        g, r, gc = g_all[s], r_all[s], gt_code[g_all[s]]
        newer = last_frame[gc] > prev_frame[s]
        since = np.where(newer, last_frame[gc], prev_frame[s])
        kept = res_code[r] == np.where(newer, last_res[gc], prev_res[s])
        mg, mr = _solve_frame(g, r, d_all[s], kept, since)
        last_frame[gt_code[mg]] = frames[s[0]]
        last_res[gt_code[mg]] = res_code[mr]
        out_g.append(mg)
        out_r.append(mr)
    return np.concatenate(out_g), np.concatenate(out_r)


def _previous_match(
    q_code: np.ndarray,
    q_rank: np.ndarray,
    m_code: np.ndarray,
    m_rank: np.ndarray,
    m_res: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """For each query (truth id, frame), the latest earlier match (frame, result id), or -1."""
    if len(m_code) == 0:
        none = np.full(len(q_code), -1, dtype=np.int64)
        return none, none.copy()
    n_frames = int(max(q_rank.max(), m_rank.max())) + 1
    key = m_code.astype(np.int64) * n_frames + m_rank
    order = np.argsort(key)
    key, m_res = key[order], m_res[order]
    pos = np.searchsorted(key, q_code.astype(np.int64) * n_frames + q_rank) - 1
    safe = np.maximum(pos, 0)
    found = (pos >= 0) & (key[safe] // n_frames == q_code)
    frame = np.where(found, key[safe] % n_frames, -1)
    res = np.where(found, m_res[safe], -1)
    return frame, res


def _solve_frame(
    gi: np.ndarray, ri: np.ndarray, dist: np.ndarray, kept: np.ndarray, since: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Matches of one frame's candidate pairs; returns (truth rows, result rows).

    Pairs flagged ``kept`` (previous correspondences) are matched first, the most recent
    (largest ``since``) winning when two claim the same result row; the remaining pairs are
    assigned to get the most matches, then the least total distance.
    """
    keep = np.flatnonzero(kept)
    keep = keep[np.argsort(-since[keep], kind="stable")]
    keep = keep[np.unique(ri[keep], return_index=True)[1]]
    free = ~np.isin(gi, gi[keep]) & ~np.isin(ri, ri[keep])
    g, r, d = gi[free], ri[free], dist[free]
    if len(g) == 0:
        return gi[keep], ri[keep]
    rows, g_inv = np.unique(g, return_inverse=True)
    cols, r_inv = np.unique(r, return_inverse=True)
    # A forbidden pair costs more than any set of allowed ones, so the solver never trades
    # an allowed pair for a shorter total.
    forbidden = (min(len(rows), len(cols)) + 1) * (float(d.max()) + 1.0)
    cost = np.full((len(rows), len(cols)), forbidden)
    cost[g_inv, r_inv] = d
    a, b = linear_sum_assignment(cost)
    ok = cost[a, b] < forbidden
    return np.concatenate([gi[keep], rows[a[ok]]]), np.concatenate([ri[keep], cols[b[ok]]])


def _count_switches(gt_code: np.ndarray, res_code: np.ndarray, rank: np.ndarray) -> int:
    """Times each truth id is matched to a result id other than its previous one."""
    order = np.lexsort((rank, gt_code))
    g, r = gt_code[order], res_code[order]
    return int(np.count_nonzero((g[1:] == g[:-1]) & (r[1:] != r[:-1])))


def _count_fragmentations(gt_code: np.ndarray, rank: np.ndarray, matched: np.ndarray) -> int:
    """Interruptions of a truth trajectory's matched state followed by a new match."""
    order = np.lexsort((rank, gt_code))
    g, m = gt_code[order], matched[order]
    starts = m.copy()
    starts[1:] &= ~m[:-1] | (g[1:] != g[:-1])
    runs = np.bincount(g[starts])
    return int(np.sum(np.maximum(runs - 1, 0)))


def _idtp(gt_code: np.ndarray, res_code: np.ndarray) -> int:
    """Largest number of co-occurrences under a one-to-one mapping of truth to result ids.

    ``gt_code`` and ``res_code`` are the id codes of each candidate pair (same frame,
    within the gate).
    """
    if len(gt_code) == 0:
        return 0
    g_lab, g_inv = np.unique(gt_code, return_inverse=True)
    r_lab, r_inv = np.unique(res_code, return_inverse=True)
    counts = np.bincount(g_inv * len(r_lab) + r_inv, minlength=len(g_lab) * len(r_lab))
    counts = counts.reshape(len(g_lab), len(r_lab))
    a, b = linear_sum_assignment(counts, maximize=True)
    return int(counts[a, b].sum())
