"""The paper's aggregation: from many runs to one score per (task, L, sequence model).

Per run (Ni et al., 2023, Section 5 and Appendix): keep the evaluation rows, smooth the metric
with a rolling mean over 10 evaluations, interpolate it on 300 points from 0 to the plot
horizon (x = env steps), and score the run by the mean of the last 15 points (the last 5%).
Runs that stop before 90% of the horizon are left out: their tail would be extrapolated.
Scores are then averaged over seeds with a 95% percentile-bootstrap interval.

The rliable-style aggregates (IQM and mean across the lengths of a task, with stratified
bootstrap intervals, Agarwal et al., 2021) use the `rliable` library when it imports and runs,
and an equivalent numpy implementation otherwise.
"""

from __future__ import annotations

import warnings
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from memrl.analysis.runs import Run
from memrl.tasks import TASKS

X_COLUMN = "env_steps"
SMOOTH_WINDOW = 10  # evaluations
NUM_POINTS = 300
LAST_FRACTION = 0.05  # score = mean of the last 15 of 300 points
MIN_COVERAGE = 0.9  # a run must reach 90% of the horizon
CONFIDENCE = 0.95
BOOTSTRAP_REPS = 10_000

def default_metric(env_type: str) -> str:
    """The task record's metric (return for tasks memrl does not know)."""
    task = TASKS.get(env_type)
    return task.metric if task else "return"


# --- one run ---------------------------------------------------------------------------------


def evaluation_rows(progress: pd.DataFrame, metric: str) -> pd.DataFrame:
    """The rows holding an evaluation of `metric`, sorted by env steps."""
    if metric not in progress.columns:
        return progress.iloc[:0]
    rows = progress[[X_COLUMN, metric]].apply(pd.to_numeric, errors="coerce").dropna()
    return rows.sort_values(X_COLUMN, kind="stable")


def smoothed_curve(
    progress: pd.DataFrame, metric: str, horizon: float, num_points: int = NUM_POINTS
) -> np.ndarray:
    """The metric smoothed over the last 10 evaluations, on `num_points` steps in [0, horizon].

    The rolling mean is trailing (each point averages itself and the 9 evaluations before it,
    fewer at the start). Outside the logged range the first / last value is held.
    """
    rows = evaluation_rows(progress, metric)
    if rows.empty:
        raise ValueError(f"no evaluation rows with {metric!r}")
    smooth = rows[metric].rolling(SMOOTH_WINDOW, min_periods=1).mean()
    grid = np.linspace(0.0, horizon, num_points)
    return np.interp(grid, rows[X_COLUMN].to_numpy(float), smooth.to_numpy(float))


def final_score(curve: np.ndarray) -> np.ndarray:
    """Mean of the last 5% of an interpolated curve (or of each row of a stack of curves)."""
    curve = np.asarray(curve, dtype=float)
    last = max(1, round(LAST_FRACTION * curve.shape[-1]))
    return curve[..., -last:].mean(axis=-1)


# --- statistics ------------------------------------------------------------------------------


def bootstrap_ci(
    values: np.ndarray,
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int | np.random.Generator = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Percentile-bootstrap interval of the mean over axis 0 (the seeds).

    `values` is (n,) or (n, ...); a resample is drawn as multinomial counts over the n seeds,
    so a stack of curves costs one matrix product instead of a (reps, n, points) array.
    """
    values = np.asarray(values, dtype=float)
    n = values.shape[0]
    if n == 0:
        raise ValueError("bootstrap of no values")
    if n == 1:
        return values[0].copy(), values[0].copy()
    rng = np.random.default_rng(seed)
    counts = rng.multinomial(n, np.full(n, 1.0 / n), size=reps)
    means = (counts @ values.reshape(n, -1) / n).reshape((reps,) + values.shape[1:])
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(means, [tail, 100 - tail], axis=0)
    return low, high


def iqm(values: np.ndarray, axis: int | None = None) -> np.ndarray:
    """Interquartile mean: the mean of the middle 50% (trims int(n/4) from each end).

    Same convention as scipy.stats.trim_mean(x, 0.25), which rliable uses.
    """
    values = np.asarray(values, dtype=float)
    if axis is None:
        values, axis = values.ravel(), 0
    values = np.sort(np.moveaxis(values, axis, -1), axis=-1)
    n = values.shape[-1]
    cut = int(0.25 * n)
    return values[..., cut : n - cut].mean(axis=-1)


def stratified_bootstrap_ci(
    scores_by_task: Sequence[np.ndarray],
    statistic: Callable[[np.ndarray], np.ndarray],
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int | np.random.Generator = 0,
) -> tuple[float, float]:
    """Percentile interval of `statistic` over all runs, resampling runs within each task.

    `statistic` maps a (reps, n_runs) array, tasks' runs side by side in the order given, to
    (reps,). Tasks may hold different numbers of
    runs; each keeps its own count in every resample, as in rliable's StratifiedBootstrap.
    """
    rng = np.random.default_rng(seed)
    resampled = []
    for scores in scores_by_task:
        scores = np.asarray(scores, dtype=float).ravel()
        resampled.append(scores[rng.integers(0, len(scores), size=(reps, len(scores)))])
    stats = statistic(np.concatenate(resampled, axis=1))
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(stats, [tail, 100 - tail])
    return float(low), float(high)


def _rliable_estimates(
    scores_by_task: Sequence[np.ndarray], reps: int, confidence: float, seed: int
) -> dict[str, tuple[float, float, float]]:
    """IQM and mean with rliable's stratified bootstrap; raises whatever rliable raises."""
    from rliable import library as rly
    from rliable import metrics

    # One 1-D array per task, each resampled on its own: the stratified bootstrap, and it
    # allows a different number of runs per task (a matrix would not).
    arrays = [np.asarray(s, dtype=float).ravel() for s in scores_by_task]

    def aggregates(*xs: np.ndarray) -> np.ndarray:
        flat = np.concatenate([np.ravel(x) for x in xs])
        return np.array([metrics.aggregate_iqm(flat), np.mean([np.mean(x) for x in xs])])

    # rliable draws the list form's resamples from numpy's global generator: seed it for
    # reproducibility and put it back as it was.
    global_state = np.random.get_state()
    np.random.seed(seed)
    try:
        points, intervals = rly.get_interval_estimates(
            {"scores": arrays},
            aggregates,
            reps=reps,
            confidence_interval_size=confidence,
        )
    finally:
        np.random.set_state(global_state)
    point, interval = points["scores"], intervals["scores"]
    return {
        "iqm": (float(point[0]), float(interval[0, 0]), float(interval[1, 0])),
        "mean": (float(point[1]), float(interval[0, 1]), float(interval[1, 1])),
    }


def _numpy_estimates(
    scores_by_task: Sequence[np.ndarray], reps: int, confidence: float, seed: int
) -> dict[str, tuple[float, float, float]]:
    sizes = [np.size(s) for s in scores_by_task]
    task_of_run = np.repeat(np.arange(len(sizes)), sizes)

    def mean_of_task_means(x: np.ndarray) -> np.ndarray:
        sums = np.stack([x[..., task_of_run == t].sum(-1) for t in range(len(sizes))], -1)
        return (sums / np.asarray(sizes)).mean(-1)

    flat = np.concatenate([np.ravel(s) for s in scores_by_task]).astype(float)
    rng = np.random.default_rng(seed)
    estimates = {}
    for name, statistic in (("iqm", lambda x: iqm(x, axis=-1)), ("mean", mean_of_task_means)):
        low, high = stratified_bootstrap_ci(scores_by_task, statistic, reps, confidence, rng)
        estimates[name] = (float(statistic(flat)), low, high)
    return estimates


def interval_estimates(
    scores_by_task: Sequence[np.ndarray],
    reps: int = BOOTSTRAP_REPS,
    confidence: float = CONFIDENCE,
    seed: int = 0,
    backend: str = "auto",
) -> tuple[dict[str, tuple[float, float, float]], str]:
    """{"iqm": (point, low, high), "mean": (...)} over all runs of all tasks, and the backend.

    As in rliable, the IQM pools every run of every task and the mean is the mean over tasks
    of each task's mean.

    backend "auto" tries rliable and falls back to numpy (with a warning when rliable is
    installed but fails, e.g. an `arch` release it does not support); "rliable" or "numpy"
    forces one.
    """
    if backend not in ("auto", "rliable", "numpy"):
        raise ValueError(f"backend is 'auto', 'rliable' or 'numpy', got {backend!r}")
    if backend != "numpy":
        try:
            return _rliable_estimates(scores_by_task, reps, confidence, seed), "rliable"
        except ModuleNotFoundError:
            if backend == "rliable":
                raise
        except Exception as e:  # rliable present but broken against its dependencies
            if backend == "rliable":
                raise
            warnings.warn(f"rliable failed ({type(e).__name__}: {e}); using numpy", stacklevel=2)
    return _numpy_estimates(scores_by_task, reps, confidence, seed), "numpy"


# --- groups of runs --------------------------------------------------------------------------


@dataclass
class Group:
    """All runs of one (task, L): their curves on a shared step grid, by model label."""

    env_type: str
    length: int | str
    metric: str
    horizon: float
    steps: np.ndarray
    curves: dict[str, np.ndarray] = field(default_factory=dict)  # label -> (runs, points)
    runs: dict[str, list[Run]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def scores(self) -> dict[str, np.ndarray]:
        return {label: final_score(curves) for label, curves in self.curves.items()}


def model_labels(runs: Sequence[Run]) -> list[str]:
    """The sequence model's name, plus the algorithm where a task was run with several."""
    algos = defaultdict(set)
    for run in runs:
        algos[run.env_type].add(run.algo)
    return [
        run.seq_model if len(algos[run.env_type]) == 1 else f"{run.seq_model}-{run.algo}"
        for run in runs
    ]


def group_runs(
    runs: Sequence[Run], metric: str | None = None, horizon: float | None = None
) -> list[Group]:
    """Curves of every usable run, grouped by (task, L), sorted.

    `metric` defaults per task (return for T-Maze, success otherwise). `horizon` defaults to
    the furthest env step any run of the group evaluated at. Each left-out run gets a note.
    """
    by_key: dict[tuple[str, int | str], list[tuple[str, Run]]] = defaultdict(list)
    for label, run in zip(model_labels(runs), runs):
        by_key[(run.env_type, run.length)].append((label, run))

    groups = []
    for (env_type, length), members in sorted(by_key.items()):
        group_metric = metric or default_metric(env_type)
        reach = {id(run): evaluation_rows(run.progress, group_metric)[X_COLUMN].max()
                 for _, run in members}
        reached = [r for r in reach.values() if pd.notna(r)]
        group_horizon = float(horizon) if horizon else float(max(reached, default=0.0))
        points = TASKS[env_type].curve_points if env_type in TASKS else NUM_POINTS
        group = Group(env_type, length, group_metric, group_horizon,
                      np.linspace(0.0, group_horizon, points))
        for label, run in members:
            last = reach[id(run)]
            if pd.isna(last):
                group.notes.append(f"left out {run.path}: no evaluation rows with "
                                   f"{group_metric!r}")
                continue
            if group_horizon <= 0 or last < MIN_COVERAGE * group_horizon:
                group.notes.append(f"left out {run.path}: stops at {last:.0f} env steps, "
                                   f"before 90% of the horizon {group_horizon:.0f}")
                continue
            curve = smoothed_curve(run.progress, group_metric, group_horizon, points)
            group.curves.setdefault(label, np.empty((0, points)))
            group.curves[label] = np.vstack([group.curves[label], curve])
            group.runs.setdefault(label, []).append(run)
        groups.append(group)
    return groups


# --- tables ----------------------------------------------------------------------------------


def score_table(
    groups: Sequence[Group], reps: int = BOOTSTRAP_REPS, seed: int = 0
) -> pd.DataFrame:
    """Final score per (task, L, model): mean over seeds, its 95% bootstrap CI, IQM, seeds."""
    rng = np.random.default_rng(seed)
    rows = []
    for group in groups:
        for label, scores in sorted(group.scores().items()):
            low, high = bootstrap_ci(scores, reps=reps, seed=rng)
            rows.append({
                "env_type": group.env_type, "L": group.length, "model": label,
                "metric": group.metric, "mean": scores.mean(), "ci_low": float(low),
                "ci_high": float(high), "iqm": float(iqm(scores)), "n_seeds": len(scores),
                "horizon": group.horizon,
            })
    columns = ["env_type", "L", "model", "metric", "mean", "ci_low", "ci_high", "iqm",
               "n_seeds", "horizon"]
    return pd.DataFrame(rows, columns=columns)


def aggregate_table(
    groups: Sequence[Group], reps: int = BOOTSTRAP_REPS, seed: int = 0, backend: str = "auto"
) -> pd.DataFrame:
    """Per (task, model): IQM and mean of final scores over all lengths and seeds, with
    stratified-bootstrap CIs (the lengths are the strata)."""
    scores: dict[tuple[str, str, str], list[np.ndarray]] = defaultdict(list)
    for group in groups:
        for label, s in group.scores().items():
            scores[(group.env_type, group.metric, label)].append(s)
    rows = []
    for (env_type, metric, label), by_length in sorted(scores.items()):
        est, used = interval_estimates(by_length, reps=reps, seed=seed, backend=backend)
        rows.append({
            "env_type": env_type, "model": label, "metric": metric,
            "iqm": est["iqm"][0], "iqm_low": est["iqm"][1], "iqm_high": est["iqm"][2],
            "mean": est["mean"][0], "mean_low": est["mean"][1], "mean_high": est["mean"][2],
            "n_runs": sum(len(s) for s in by_length), "n_lengths": len(by_length),
            "backend": used,
        })
    columns = ["env_type", "model", "metric", "iqm", "iqm_low", "iqm_high", "mean", "mean_low",
               "mean_high", "n_runs", "n_lengths", "backend"]
    return pd.DataFrame(rows, columns=columns)


def to_markdown(table: pd.DataFrame, digits: int = 3) -> str:
    """A GitHub markdown table (pandas' own needs the optional `tabulate`)."""
    def cell(value: object) -> str:
        if isinstance(value, float | np.floating):
            return f"{value:.{digits}f}"
        return str(value)

    lines = ["| " + " | ".join(table.columns) + " |", "|" + "---|" * len(table.columns)]
    lines += ["| " + " | ".join(cell(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def write_table(table: pd.DataFrame, out_dir: str | Path, stem: str) -> list[Path]:
    """`<stem>.csv` and `<stem>.md` under out_dir."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    csv_path, md_path = out_dir / f"{stem}.csv", out_dir / f"{stem}.md"
    table.to_csv(csv_path, index=False)
    md_path.write_text(to_markdown(table))
    return [csv_path, md_path]
