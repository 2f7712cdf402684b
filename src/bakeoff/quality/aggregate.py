"""Per-model ``quality`` blocks and the run-level ``quality`` block of summary.json, from the run's
records, prompt cases, judgments, pairwise verdicts and human scores (pure over saved files).

The unit of a mean is the prompt case: each measured answer gets its human score if a person scored
that exact text, else the mean of the qualified judges' parsed scores; a case's score is the mean over
its answers, and the model's mean is over cases, with a bootstrap 95% interval from resampling cases.
A judge that did not pass qualification (``quality.calibration``), or was never tested, is kept apart:
its scores are in ``judge_mean`` and ``mean_trusting_judges`` (the same mean counting every judge, for
``recommend --trust-judge``), never in ``mean``, and its aspect verdicts are not counted as coverage.
Unparsed judgments never become scores; their rate is reported beside the mean. Cases with a reference
answer get ROUGE-L F1 and key-term recall (``quality.reference``), averaged the same way.
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np

from bakeoff.config.settings import PromptCase
from bakeoff.metrics.stats import ci95
from bakeoff.quality.agreement import agreement
from bakeoff.quality.checks import run_checks
from bakeoff.quality.facts import facts_block
from bakeoff.quality.fields import fields_block
from bakeoff.quality.pairwise import HUMAN, rank
from bakeoff.quality.reference import match
from bakeoff.quality.rubric import PAIRWISE_VERSION, RUBRIC_VERSION
from bakeoff.quality.store import (
    CASES_FILE,
    HumanScore,
    Judgment,
    PairVerdict,
    load_cases,
    load_human,
    load_judgments,
    load_pairs,
    load_run_records,
    sha,
)
from bakeoff.records import RequestRecord
from bakeoff.results.schema import JudgeInfo, ModelQuality, RunQuality, Summary

SMALL_JUDGE_MB = 2000.0
"""A judge whose weights take less disk than this (about 3B parameters at 4 bits) is called weak."""


def bootstrap_ci(values: Sequence[float], boot: int = 2000, seed: int = 0) -> tuple[float, float] | None:
    """Percentile 95% interval of the mean; None for fewer than two values."""
    if len(values) < 2:
        return None
    arr = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    means = arr[rng.integers(0, len(arr), (boot, len(arr)))].mean(axis=1)
    return ci95(means)


def interval(values: Sequence[float], seed: int = 0) -> list[float] | None:
    """``bootstrap_ci`` rounded to 4 places, as summary.json keeps it; None for fewer than two values.
    ``seed`` is the run's (``--seed``): the same run gives the same interval, another seed may not."""
    ci = bootstrap_ci(values, seed=seed)
    return None if ci is None else [round(ci[0], 4), round(ci[1], 4)]


def _measured(records: Sequence[RequestRecord], model: str) -> list[RequestRecord]:
    return [r for r in records if r.model == model and not r.warmup and r.status == "ok"]


def check_block(
    cases: dict[str, PromptCase], recs: Sequence[RequestRecord]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Pass rates per model and per check, and the per-output results."""
    rows: list[dict[str, Any]] = []
    by_check: dict[str, list[bool]] = defaultdict(list)
    for r in recs:
        case = cases.get(r.prompt_id)
        if case is None or not case.checks:
            continue
        results = run_checks(case, r.output)
        for res in results:
            by_check[res.check].append(res.passed)
        rows.append(
            {
                "model": r.model,
                "case_id": r.prompt_id,
                "round": r.round,
                "output_sha": sha(r.output),
                "results": [{"check": x.check, "passed": x.passed, "reason": x.reason} for x in results],
            }
        )
    flat = [p for v in by_check.values() for p in v]
    block: dict[str, Any] = {
        "total": len(flat),
        "passed": sum(flat),
        "pass_rate": sum(flat) / len(flat) if flat else None,
        "outputs_all_passed": sum(all(x["passed"] for x in row["results"]) for row in rows),
        "outputs": len(rows),
        "by_check": {k: sum(v) / len(v) for k, v in sorted(by_check.items())},
    }
    return block, rows


@dataclass(frozen=True)
class _Rated:
    """One answer's human score over every rater who scored it: the mean score, and each aspect's
    mean mark over the raters who marked it."""

    score: float
    aspects: dict[str, float | None]


def combine_raters(humans: Iterable[HumanScore]) -> dict[tuple[str, str], _Rated]:
    """(case, answer) -> the raters' mean score and aspect marks (one rater: their own)."""
    scores: dict[tuple[str, str], list[int]] = defaultdict(list)
    marks: dict[tuple[str, str], dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for h in humans:
        k = (h.case_id, h.output_sha)
        scores[k].append(h.score)
        for a, v in h.aspects.items():
            seen = marks[k].setdefault(a, [])  # an aspect every rater left blank stays, as None
            if v is not None:
                seen.append(v)
    return {
        k: _Rated(float(np.mean(v)), {a: (float(np.mean(m)) if m else None) for a, m in marks[k].items()})
        for k, v in scores.items()
    }


def model_quality(
    model: str,
    cases: dict[str, PromptCase],
    recs: Sequence[RequestRecord],
    judgments: Sequence[Judgment],
    humans: Sequence[HumanScore],
    skipped_self: bool = False,
    qualified: frozenset[str] | None = None,
    seed: int = 0,
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """The quality block of one model (see module docstring for how scores combine). ``qualified``
    names the judges that passed qualification for rubric scoring (None: every judge counts); the
    others' scores are kept in ``judge_mean`` and ``mean_trusting_judges`` but left out of ``mean``."""
    checks, check_rows = check_block(cases, recs)
    mine = [j for j in judgments if j.model == model]
    trusted = {j.judge for j in mine} if qualified is None else set(qualified)
    scores: dict[bool, dict[tuple[str, str], list[int]]] = {True: defaultdict(list), False: defaultdict(list)}
    judge_aspects: dict[tuple[str, str], dict[str, float | None]] = {}
    for j in mine:
        if j.ok and j.score is not None:
            key = (j.case_id, j.output_sha)
            scores[False][key].append(j.score)
            if j.judge in trusted:
                scores[True][key].append(j.score)
                judge_aspects.setdefault(key, j.aspects)
    human = combine_raters(h for h in humans if h.model == model)

    judge_case: dict[str, list[float]] = defaultdict(list)
    human_case: dict[str, list[float]] = defaultdict(list)
    per_case: dict[bool, dict[str, list[float]]] = {True: defaultdict(list), False: defaultdict(list)}
    sources: dict[bool, set[str]] = {True: set(), False: set()}
    ref_case: dict[str, list[tuple[float, float | None]]] = defaultdict(list)
    coverage: dict[str, list[float]] = defaultdict(list)
    weighted: list[float] = []
    for r in recs:
        k = (r.prompt_id, sha(r.output))
        case = cases.get(r.prompt_id)
        if case is not None and case.reference:
            got = match(r.output, case.reference, case.source)
            ref_case[r.prompt_id].append((got.rouge_l, got.term_recall))
        if scores[False].get(k):
            judge_case[r.prompt_id].append(float(np.mean(scores[False][k])))
        h = human.get(k)
        for strict in (True, False):
            js = scores[strict].get(k)
            if h is not None:
                per_case[strict][r.prompt_id].append(float(h.score))
                sources[strict].add("human")
            elif js:
                per_case[strict][r.prompt_id].append(float(np.mean(js)))
                sources[strict].add("judge")
        if h is not None:
            human_case[r.prompt_id].append(float(h.score))
            aspects = {a: v for a, v in h.aspects.items() if v is not None} or judge_aspects.get(k, {})
        elif scores[True].get(k):
            aspects = judge_aspects.get(k, {})
        else:
            continue
        weights = {a.id: a.weight for a in case.aspects} if case else {}
        num = den = 0.0
        for aid, v in aspects.items():
            if v is None:
                continue
            coverage[aid].append(v)
            w = weights.get(aid, 1.0)
            num, den = num + w * v, den + w
        if den:
            weighted.append(num / den)

    def case_mean(d: dict[str, list[float]]) -> tuple[float | None, list[float]]:
        vals = [float(np.mean(v)) for v in d.values() if v]
        return (float(np.mean(vals)) if vals else None), vals

    def rounded(x: float | None) -> float | None:
        return None if x is None else round(x, 4)

    mean, case_scores = case_mean(per_case[True])
    mean_all, case_scores_all = case_mean(per_case[False])
    unparsed = sum(not j.ok for j in mine)
    block: dict[str, Any] = {
        "mean": rounded(mean),
        "ci95": interval(case_scores, seed),
        "n": len(case_scores),
        "n_outputs": sum(len(v) for v in per_case[True].values()),
        "source": "+".join(sorted(sources[True], reverse=True)) or None,
        "mean_trusting_judges": rounded(mean_all),
        "ci95_trusting_judges": interval(case_scores_all, seed),
        "source_trusting_judges": "+".join(sorted(sources[False], reverse=True)) or None,
        "unqualified_judges": sorted({j.judge for j in mine} - trusted),
        "reference": reference_block(ref_case, seed),
        "judge_mean": case_mean(judge_case)[0],
        "human_mean": case_mean(human_case)[0],
        "judges": sorted({j.judge for j in mine}),
        "judged": len(mine),
        "unparsed": unparsed,
        "unparsed_rate": unparsed / len(mine) if mine else None,
        "self_judging_skipped": skipped_self,
        "human_scored": len(human),
        "checks": checks,
        "check_pass_rate": checks["pass_rate"],
        "aspect_coverage": {k: round(float(np.mean(v)), 4) for k, v in sorted(coverage.items())},
        "aspect_coverage_mean": round(float(np.mean(weighted)), 4) if weighted else None,
        "facts": facts_block(cases, recs),
        "fields": fields_block(cases, recs),
    }
    return block, check_rows


def reference_block(
    per_case: dict[str, list[tuple[float, float | None]]], seed: int = 0
) -> dict[str, Any] | None:
    """ROUGE-L F1 and key-term recall: each case's mean over its answers, then the mean over cases with
    a bootstrap 95% interval. None when no answered case has a reference."""
    if not per_case:
        return None
    rouge = [float(np.mean([r for r, _ in v])) for v in per_case.values()]
    recall = [float(np.mean(xs)) for v in per_case.values() if (xs := [t for _, t in v if t is not None])]
    return {
        "n": len(per_case),
        "rouge_l": round(float(np.mean(rouge)), 4),
        "rouge_l_ci95": interval(rouge, seed),
        "term_recall": round(float(np.mean(recall)), 4) if recall else None,
        "term_recall_ci95": interval(recall, seed),
    }


def _agreement_by_judge(
    judgments: Sequence[Judgment], humans: Sequence[HumanScore]
) -> dict[str, dict[str, Any]]:
    human: dict[tuple[str, str, str], list[int]] = defaultdict(list)
    for h in humans:  # each rater's score pairs with the judge's on its own
        human[(h.model, h.case_id, h.output_sha)].append(h.score)
    pairs: dict[str, tuple[list[int], list[int]]] = defaultdict(lambda: ([], []))
    for j in judgments:
        if not (j.ok and j.score is not None):
            continue
        for score in human.get((j.model, j.case_id, j.output_sha), []):
            pairs[j.judge][0].append(score)
            pairs[j.judge][1].append(j.score)
    return {judge: agreement(hs, js) for judge, (hs, js) in sorted(pairs.items())}


def apply_quality(
    summary: Summary,
    run_dir: Path,
    cases: Sequence[PromptCase] | None = None,
    records: Sequence[RequestRecord] | None = None,
) -> Summary:
    """Fill every model's ``quality`` and the run's ``quality`` from the files in ``run_dir``;
    writes ``checks.jsonl`` (per-output check results). A run without saved cases is left as it is."""
    if cases is None:
        if not (run_dir / CASES_FILE).exists():
            return summary
        cases = load_cases(run_dir)
    recs = list(records) if records is not None else load_run_records(run_dir)
    by_id = {c.id: c for c in cases}
    all_judgments, all_pairs = load_judgments(run_dir), load_pairs(run_dir)
    # verdicts under an older rubric are kept in the files but never mixed with current ones
    judgments = [j for j in all_judgments if j.rubric == RUBRIC_VERSION]
    pairs = [v for v in all_pairs if v.rubric == PAIRWISE_VERSION]
    stale = len(all_judgments) - len(judgments) + len(all_pairs) - len(pairs)
    humans = load_human(run_dir)
    known = summary.quality.judges if summary.quality else {}
    qualified = frozenset(label for label, info in known.items() if trusted(info, "rubric"))
    judges_meta: dict[str, dict[str, Any]] = {
        label: info.model_dump()
        for label, info in (summary.quality.judges if summary.quality else {}).items()
    }
    self_skipped = {m for info in judges_meta.values() for m in info.get("skipped_self", [])}
    all_rows: list[dict[str, Any]] = []
    seed = run_seed(summary)
    for m in summary.models:
        block, rows = model_quality(
            m.model, by_id, _measured(recs, m.model), judgments, humans, m.model in self_skipped, qualified,
            seed,
        )  # fmt: skip
        m.quality = ModelQuality.model_validate(block)
        all_rows += rows
    with (run_dir / "checks.jsonl").open("w", encoding="utf-8") as fh:
        for row in all_rows:
            fh.write(json.dumps(row) + "\n")
    people = [v for v in pairs if v.judge.startswith(HUMAN)]  # raters in `bakeoff view`: not judges
    model_pairs = [v for v in pairs if not v.judge.startswith(HUMAN)]
    for prefix, verdicts in (("", judgments), ("pairwise_", model_pairs)):
        for label, stats in judge_stats(verdicts, prefix).items():
            judges_meta.setdefault(label, {}).update(stats)
    run_q: dict[str, Any] = {
        "judges": judges_meta,
        "cases": len(cases),
        "cases_with_aspects": sum(bool(c.aspects) for c in cases),
        "cases_with_checks": sum(bool(c.checks) for c in cases),
        "shared_aspects": sorted(
            a for a, n in Counter(a.id for c in cases for a in c.aspects).items() if n >= 2
        ),
        "agreement": _agreement_by_judge(judgments, humans),
        "notes": [],
    }
    if pairs:
        names = [m.model for m in summary.models if m.status == "ok"]
        in_pairs = {v.first for v in pairs} | {v.second for v in pairs}
        run_q["pairwise"] = rank([n for n in names if n in in_pairs], pairs, seed=seed)
    quality = RunQuality.model_validate(run_q)
    if quality.pairwise is not None:
        for name, standing in quality.pairwise.models.items():
            q = next(m for m in summary.models if m.model == name).quality
            if q is not None:
                q.pairwise = standing
    quality.notes = quality_notes(summary, quality)
    if people:
        raters = sorted({v.judge.removeprefix(HUMAN) for v in people})
        quality.notes.append(
            f"the pairwise ranking counts {len(people)} verdicts of people ({', '.join(raters)}, rated in "
            f"`bakeoff view`){f' with {len(model_pairs)} of judges' if model_pairs else ''}"
        )
    if stale:
        quality.notes.append(
            f"{stale} verdicts under older rubric versions are ignored (current: {RUBRIC_VERSION}, "
            f"{PAIRWISE_VERSION}); run `bakeoff judge` again to redo them"
        )
    summary.quality = quality
    return summary


def run_seed(summary: Summary) -> int:
    """The seed the bootstrap intervals use: the run's ``--seed`` (0 when it had none)."""
    seed = summary.run.settings.get("seed")
    return seed if isinstance(seed, int) and not isinstance(seed, bool) else 0


def judge_stats(
    verdicts: Sequence[Judgment] | Sequence[PairVerdict], prefix: str = ""
) -> dict[str, dict[str, Any]]:
    """Per judge: verdicts, unparsed, retries, and seconds per verdict as first measured (a cached
    verdict keeps the time it took when it was asked)."""
    by: dict[str, list[Judgment | PairVerdict]] = defaultdict(list)
    for v in verdicts:
        by[v.judge].append(v)
    out = {}
    for label, vs in by.items():
        secs = [v.seconds for v in vs if v.seconds > 0]
        stats = {
            "rubric": ", ".join(sorted({v.rubric for v in vs})),
            "verdicts": len(vs),
            "unparsed": sum(not v.ok for v in vs),
            "retried": sum(v.attempts > 1 for v in vs),
            "seconds_per_verdict": round(float(np.mean(secs)), 3) if secs else None,
            "seconds_per_verdict_p50": round(float(np.median(secs)), 3) if secs else None,
        }
        out[label] = {prefix + k: v for k, v in stats.items()}
    return out


def trusted(info: JudgeInfo, mode: Literal["rubric", "pairwise"]) -> bool:
    """The judge passed qualification in ``mode`` with the prompt version in use now."""
    current = RUBRIC_VERSION if mode == "rubric" else PAIRWISE_VERSION
    return (
        info.qualified(mode)
        and info.qualification is not None
        and info.qualification.prompts.get(mode) == current
    )


def qualification_note(label: str, info: JudgeInfo, mode: Literal["rubric", "pairwise"]) -> str | None:
    """Why a judge's verdicts in ``mode`` are kept out of the quality score, or None if it qualified."""
    q = info.qualification
    part = None if q is None else (q.rubric if mode == "rubric" else q.pairwise)
    what = "rubric scores" if mode == "rubric" else "pairwise verdicts"
    use = (
        "they are shown, but left out of the quality score and `recommend` unless you pass --trust-judge"
        if mode == "rubric"
        else "its ranking is shown for reference only"
    )
    if q is None or part is None:
        return (
            f"judge {label} was not qualified for {what} (`bakeoff judge RUN --judge ... --qualify` "
            f"tests it): {use}"
        )
    again = f"run `bakeoff judge RUN --judge ... --qualify` again: {use}"
    if part.failed_requests:
        return (
            f"qualification of judge {label} for {what} is incomplete: {part.failed_requests} "
            f"requests got no answer; {again}"
        )
    if part.qualified and not trusted(info, mode):
        return f"judge {label} qualified for {what} under other prompts ({q.prompts.get(mode)}); {again}"
    if part.qualified:
        return None
    caught = (
        "scored the gold answer above" if mode == "rubric" else "preferred the gold answer in both orders to"
    )
    missed = ", ".join(k for k, ok in part.by_kind.items() if not ok)
    extra = (
        f"score spread {part.score_spread:.2f}"
        if mode == "rubric" and part.score_spread is not None
        else (f"picked position A in {part.position_bias:.0%}" if part.position_bias is not None else "")
    )
    return (
        f"judge {label} failed qualification for {what}: it {caught} {part.passed} of {part.items} "
        f"corrupted answers (needs {q.threshold:.0%}; missed: {missed or 'none'}"
        + (f"; {extra}" if extra else "")
        + f"): {use}"
    )


def quality_notes(summary: Summary, run_q: RunQuality) -> list[str]:
    """Plain warnings a reader needs next to the scores: unqualified or weak judge, unparsed replies,
    self-judging."""
    notes = []
    pair_judges = {label for label, info in run_q.judges.items() if info.pairwise_verdicts}
    for label, info in run_q.judges.items():
        if info.verdicts:
            note = qualification_note(label, info, "rubric")
            if note:
                notes.append(note)
        if label in pair_judges:
            note = qualification_note(label, info, "pairwise")
            if note:
                notes.append(note)
        mb = info.disk_mb
        if mb is not None and mb < SMALL_JUDGE_MB and trusted(info, "rubric"):
            notes.append(
                f"judge {label} is a small model ({mb:.0f} MB of weights): it passed qualification, but "
                "its scores are weak evidence; check them against people with `bakeoff annotate export`"
            )
    for m in summary.models:
        q = m.quality
        if q is None:
            continue
        rate = q.unparsed_rate
        if rate is not None and rate > 0:
            notes.append(
                f"{m.model}: {q.unparsed} of {q.judged} judgments unparsed ({rate:.0%}); "
                "they are excluded from its mean"
            )
        if q.self_judging_skipped and q.judge_mean is None:
            notes.append(f"{m.model} is the judge, so no judge scored it (a model never judges itself)")
    pw = run_q.pairwise
    if pw is not None and pw.position_consistency is not None and pw.position_consistency < 0.5:
        notes.append(
            f"the pairwise judge agreed with itself across swapped orders in only "
            f"{pw.position_consistency:.0%} of comparisons: inconsistent pairs count as ties"
        )
    return notes
