"""Load run folders, aggregate them as the paper does, and plot curves and scores vs length."""

from memrl.analysis.aggregate import group_runs, score_table
from memrl.analysis.runs import Run, load_runs

__all__ = ["Run", "group_runs", "load_runs", "score_table"]
