"""Pairwise verdicts to rankings: order-swapped pairs, win rates and Bradley-Terry strengths.

A comparison counts only when the judge saw both orders. If the two verdicts name the same model it
wins; if they disagree (the judge followed the position, not the answer) or either says tie, it is a
tie. Bradley-Terry strengths are fitted by the MM algorithm with each tie as half a win each way and
one virtual tie per pair (so a model that wins everything gets a finite strength); 95% intervals come
from resampling cases.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from bakeoff.metrics.stats import ci95
from bakeoff.quality.store import PairVerdict

HUMAN = "human:"
"""A judge named ``human:NAME`` is a person rating in ``bakeoff view``: a person is shown one order, so
their verdict counts as it is given, and is left out of the position consistency (a model judge's
check)."""


@dataclass(frozen=True)
class Comparison:
    """One case, two models, both orders judged: ``winner`` is a model name or None for a tie."""

    case_id: str
    a: str
    b: str
    winner: str | None
    consistent: bool
    human: bool = False


def combine(verdicts: Sequence[PairVerdict]) -> list[Comparison]:
    """Pair each verdict with its swapped twin (same judge and case); unparsed halves drop the pair. A
    person's verdict (``HUMAN``) is a comparison on its own."""
    by: dict[tuple[str, str, str, str], PairVerdict] = {}
    out: list[Comparison] = []
    for v in verdicts:
        if v.judge.startswith(HUMAN):
            if v.ok:
                x, y = sorted((v.first, v.second))
                out.append(
                    Comparison(v.case_id, x, y, {"A": v.first, "B": v.second}.get(v.winner or ""), True, True)
                )
            continue
        by[(v.judge, v.case_id, v.first, v.second)] = v
    for (judge, case, x, y), v in sorted(by.items()):
        if x > y:
            continue
        w = by.get((judge, case, y, x))
        if w is None or not v.ok or not w.ok:
            continue
        pick1 = {"A": x, "B": y}.get(v.winner or "")
        pick2 = {"A": y, "B": x}.get(w.winner or "")
        if pick1 is not None and pick1 == pick2:
            out.append(Comparison(case, x, y, pick1, True))
        else:
            consistent = pick1 is None and pick2 is None  # both said tie
            out.append(Comparison(case, x, y, None, consistent))
    return out


def bradley_terry(models: Sequence[str], comps: Sequence[Comparison], prior: float = 1.0) -> dict[str, float]:
    """Log-strengths (mean 0) by minorise-maximise; higher is better."""
    idx = {m: i for i, m in enumerate(models)}
    k = len(models)
    if k < 2:  # nothing to compare against: one model is the mean
        return {m: 0.0 for m in models}
    wins = np.zeros((k, k))
    for c in comps:
        if c.a not in idx or c.b not in idx:  # a model outside the ranking (e.g. one that failed)
            continue
        i, j = idx[c.a], idx[c.b]
        if c.winner == c.a:
            wins[i, j] += 1
        elif c.winner == c.b:
            wins[j, i] += 1
        else:
            wins[i, j] += 0.5
            wins[j, i] += 0.5
    wins += prior / 2 * (1 - np.eye(k))
    games = wins + wins.T
    p = np.ones(k)
    for _ in range(10_000):
        denom = (games / (p[:, None] + p[None, :])).sum(axis=1)
        new = wins.sum(axis=1) / denom
        new /= np.exp(np.log(new).mean())
        if np.max(np.abs(new - p)) < 1e-10:
            p = new
            break
        p = new
    logp = np.log(p)
    return {m: float(logp[idx[m]] - logp.mean()) for m in models}


def rank(
    models: Sequence[str], verdicts: Sequence[PairVerdict], boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Win rates, Bradley-Terry strengths with bootstrap 95% intervals, and the judge's consistency."""
    comps = combine(verdicts)
    per: dict[str, dict[str, float]] = {m: {"wins": 0, "losses": 0, "ties": 0} for m in models}
    for c in comps:
        for m in (c.a, c.b):
            if m not in per:
                continue
            if c.winner is None:
                per[m]["ties"] += 1
            elif c.winner == m:
                per[m]["wins"] += 1
            else:
                per[m]["losses"] += 1
    bt = bradley_terry(models, comps)
    by_case: dict[str, list[Comparison]] = defaultdict(list)
    for c in comps:
        by_case[c.case_id].append(c)
    case_ids = sorted(by_case)
    samples: dict[str, list[float]] = {m: [] for m in models}
    if case_ids:
        rng = np.random.default_rng(seed)
        for _ in range(boot):
            pick = rng.integers(0, len(case_ids), len(case_ids))
            resampled = [c for i in pick for c in by_case[case_ids[i]]]
            for m, v in bradley_terry(models, resampled).items():
                samples[m].append(v)
    ranking = {}
    for m in models:
        n = per[m]["wins"] + per[m]["losses"] + per[m]["ties"]
        s = samples[m]
        ranking[m] = {
            **{k: int(v) for k, v in per[m].items()},
            "comparisons": int(n),
            "win_rate": (per[m]["wins"] + 0.5 * per[m]["ties"]) / n if n else None,
            "bt": round(bt[m], 4),
            "bt_ci95": [round(x, 4) for x in ci95(s)] if s else None,
        }
    judged = [c for c in comps if not c.human]
    consistent = sum(c.consistent for c in judged)
    return {
        "models": ranking,
        "order": sorted(models, key=lambda m: -bt[m]),
        "comparisons": len(comps),
        "position_consistency": consistent / len(judged) if judged else None,
        "unparsed": sum(not v.ok for v in verdicts),
        "verdicts": len(verdicts),
    }
