"""How far a judge and people agree on the same outputs: exact and within-one agreement, quadratic
weighted Cohen's kappa (scikit-learn) and Spearman's rank correlation (SciPy)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def agreement(human: Sequence[int], judge: Sequence[int]) -> dict[str, Any]:
    """Agreement statistics over paired 1-5 scores; kappa and rho are None where undefined."""
    if len(human) != len(judge):
        raise ValueError("paired scores must have the same length")
    n = len(human)
    if n == 0:
        return {"n": 0, "exact": None, "within_one": None, "kappa_quadratic": None, "spearman": None}
    from scipy.stats import spearmanr
    from sklearn.metrics import cohen_kappa_score

    exact = sum(h == j for h, j in zip(human, judge, strict=True)) / n
    within = sum(abs(h - j) <= 1 for h, j in zip(human, judge, strict=True)) / n
    # kappa is undefined (0/0) only when both raters gave one and the same score throughout; rho needs
    # three pairs and two raters who each vary. Outside those cases neither library returns NaN.
    kappa: float | None = None
    if len(set(human)) > 1 or len(set(judge)) > 1:
        kappa = float(cohen_kappa_score(human, judge, weights="quadratic", labels=[1, 2, 3, 4, 5]))
    rho: float | None = None
    if n >= 3 and len(set(human)) > 1 and len(set(judge)) > 1:
        rho = float(spearmanr(human, judge).statistic)
    return {"n": n, "exact": exact, "within_one": within, "kappa_quadratic": kappa, "spearman": rho}
