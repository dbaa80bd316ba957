"""Learning curves and the paper's aggregation plot (final score vs L), as PNG and PDF."""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, never a display
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.ticker import EngFormatter

from memrl.analysis.aggregate import Group, bootstrap_ci
from memrl.nets.seq import SEQ_MODELS
from memrl.tasks import TASKS

METRIC_NAMES = {"return": "return", "success": "success rate"}
CURVE_BOOTSTRAP_REPS = 1000  # per point of 300; the band only has to look right


def model_name(label: str) -> str:
    """'lstm-sacd' -> 'LSTM (SACD)', with the sequence model's display name."""
    name, _, algo = label.partition("-")
    name = SEQ_MODELS[name].display_name if name in SEQ_MODELS else name
    return f"{name} ({algo.upper()})" if algo else name


def model_order(label: str) -> tuple[int, str]:
    """Labels sorted as the sequence-model registry lists the models, unknown ones last."""
    registry = list(SEQ_MODELS)
    name = label.partition("-")[0]
    return (registry.index(name) if name in registry else len(registry), label)


def model_colors(labels: Sequence[str]) -> dict[str, str]:
    """One colour per model, fixed by its place in the registry, so a model has the same
    colour in every figure whichever models a figure shows."""
    registry = list(SEQ_MODELS)
    colors = {}
    for label in sorted(set(labels), key=model_order):
        index = model_order(label)[0]
        if index == len(registry):
            index += len(colors)
        colors[label] = f"C{index % 10}"
    return colors


def _memoryless_line(ax: plt.Axes, env_type: str) -> None:
    task = TASKS.get(env_type)
    if task is not None and task.memoryless is not None:
        ax.axhline(task.memoryless, color="black", linestyle="--", linewidth=1,
                   label="memoryless")


def _title(env_type: str) -> str:
    return TASKS[env_type].title if env_type in TASKS else env_type


def _save(fig: plt.Figure, out_dir: Path, stem: str) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [out_dir / f"{stem}.png", out_dir / f"{stem}.pdf"]
    for path in paths:
        fig.savefig(path, dpi=150, bbox_inches="tight")
    plt.close(fig)
    return paths


def _spaced(lengths: list[int], min_gap: float = 0.07) -> list[int]:
    """The lengths as ticks, skipping any closer to the last kept one than min_gap of the axis
    (50 and 100 would overprint on an axis to 1500)."""
    span = max(lengths[-1] - lengths[0], 1)
    ticks = [lengths[0]]
    for length in lengths[1:]:
        if length - ticks[-1] >= min_gap * span:
            ticks.append(length)
    return ticks


def _seeds(n: int) -> str:
    return f"{n} seed" if n == 1 else f"{n} seeds"


def _panel_title(group: Group) -> str:
    task = TASKS.get(group.env_type)
    name = task.variant_name if task else "L"
    return f"{name} = {group.length}" if name == "L" else str(group.length)


def _draw_panel(ax: plt.Axes, group: Group, colors: dict[str, str],
                rng: np.random.Generator, title: str) -> None:
    """A group's curves: mean over seeds with a 95% bootstrap band per model, plus the task's
    memoryless line and the published reference score for this variant, dashed."""
    for label, curves in sorted(group.curves.items(), key=lambda item: model_order(item[0])):
        mean = curves.mean(axis=0)
        low, high = bootstrap_ci(curves, reps=CURVE_BOOTSTRAP_REPS, seed=rng)
        ax.plot(group.steps, mean, color=colors[label],
                label=f"{model_name(label)} ({_seeds(len(curves))})")
        ax.fill_between(group.steps, low, high, color=colors[label], alpha=0.25, linewidth=0)
    _memoryless_line(ax, group.env_type)
    task = TASKS.get(group.env_type)
    if task is not None and group.length in task.reference:
        ax.axhline(task.reference[group.length], color="gray", linestyle="--", linewidth=1,
                   label=task.reference_label)
    ax.set_title(title)
    ax.set_xlabel("env steps")
    ax.set_ylabel(METRIC_NAMES.get(group.metric, group.metric))
    ax.set_xlim(0, group.horizon)
    ax.xaxis.set_major_formatter(EngFormatter(sep=""))  # 400k, 2M
    ax.grid(alpha=0.3)
    if not group.curves:
        ax.text(0.5, 0.5, "no complete runs", transform=ax.transAxes, ha="center")
    ax.legend(fontsize="small", loc="best")


def _grid(panels: Sequence[Group], ncols: int, colors: dict[str, str], rng: np.random.Generator,
          title: str, panel_title=_panel_title) -> plt.Figure:
    nrows = math.ceil(len(panels) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4 * ncols, 3.2 * nrows + 0.6),
                             squeeze=False)
    for ax, group in zip(axes.flat, panels):
        _draw_panel(ax, group, colors, rng, panel_title(group))
    for ax in axes.flat[len(panels):]:
        ax.set_visible(False)
    fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(
    groups: Sequence[Group], out_dir: str | Path, seed: int = 0
) -> list[Path]:
    """One figure per task, one panel per variant (L, robot): mean over seeds with a 95%
    bootstrap band. Tasks whose records share a figure are also drawn together when all are
    present: the PyBullet -P and -V tasks as the paper's Figure 8, a row each, a panel per
    robot."""
    colors = model_colors([label for g in groups for label in g.curves])
    rng = np.random.default_rng(seed)
    paths = []
    for env_type in sorted({g.env_type for g in groups}):
        panels = [g for g in groups if g.env_type == env_type]
        fig = _grid(panels, min(4, len(panels)), colors, rng,
                    f"{_title(env_type)}: learning curves")
        paths += _save(fig, Path(out_dir), f"curves_{_stem(env_type)}")
    for figure in dict.fromkeys(task.figure for task in TASKS.values() if task.figure):
        rows = [env_type for env_type, task in TASKS.items() if task.figure == figure]
        members = [g for g in groups if g.env_type in rows]
        if {g.env_type for g in members} != set(rows):
            continue  # drawn only with runs of every task in it
        variants = sorted({g.length for g in members}, key=str)
        ordered = sorted(members, key=lambda g: (rows.index(g.env_type),
                                                 variants.index(g.length)))
        fig = _grid(ordered, len(variants), colors, rng, figure.title,
                    panel_title=lambda g: f"{g.length} ({TASKS[g.env_type].figure_label})")
        paths += _save(fig, Path(out_dir), figure.name)
    return paths


def _stem(env_type: str) -> str:
    return env_type.replace("/", "_")


def plot_aggregation(scores: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Per task with a length L: final score vs L, one line per model with its 95% bootstrap
    band. (Tasks whose record plots learning curves only, like the PyBullet ones, are left out.)

    `scores` is aggregate.score_table's output.
    """
    colors = model_colors(scores["model"])
    paths = []
    for env_type, task in scores.groupby("env_type", sort=True):
        if env_type in TASKS and TASKS[env_type].plot != "aggregation":
            continue
        # Numbers here, whatever the column holds: scores of tasks whose variants are names
        # (robots, env ids) make it an object column.
        task = task.assign(L=pd.to_numeric(task["L"]))
        fig, ax = plt.subplots(figsize=(5, 3.8))
        for label, rows in sorted(task.groupby("model"), key=lambda item: model_order(item[0])):
            rows = rows.sort_values("L")
            ax.plot(rows["L"], rows["mean"], marker="o", color=colors[label],
                    label=model_name(label))
            ax.fill_between(rows["L"], rows["ci_low"], rows["ci_high"], color=colors[label],
                            alpha=0.25, linewidth=0)
        _memoryless_line(ax, env_type)
        metric = task["metric"].iloc[0]
        ax.set_xlabel(TASKS[env_type].axis_label if env_type in TASKS else "length")
        ax.set_ylabel(f"final {METRIC_NAMES.get(metric, metric)}")
        ax.set_title(_title(env_type))
        ax.set_xticks(_spaced(sorted(task["L"].unique())))
        ax.grid(alpha=0.3)
        ax.legend(loc="best")
        fig.tight_layout()
        paths += _save(fig, Path(out_dir), f"aggregation_{_stem(env_type)}")
    return paths
