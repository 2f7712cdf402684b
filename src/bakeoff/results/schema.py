"""The versioned report model (summary.json): save and load. Reporters render only from this."""

from __future__ import annotations

import json
import os
from array import array
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    SerializerFunctionWrapHandler,
    ValidationError,
    model_serializer,
    model_validator,
)

from bakeoff.errors import ReportError, UsageError
from bakeoff.metrics import definitions
from bakeoff.metrics.stats import Stats
from bakeoff.version import __version__

SCHEMA_VERSION = 1
"""Still 1: typing ``resources`` and keeping metric values by name changed no key and no value that
a reader of summary.json sees (the data contract's checks read version 1); bump it when they do."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class RequestCounts(_Strict):
    ok: int = 0
    error: int = 0


class TokenInfo(_Strict):
    prompt_mean: float | None = None
    completion_mean: float | None = None
    source: Literal["usage", "native", "counted", "estimated"] | None = None
    reasoning_mean: float | None = Field(
        None, description="thinking tokens an answer (within completion_mean); None: the model never reasoned"
    )
    reasoning_exhausted: int = Field(
        0, description="requests whose thinking used all max_tokens before any answer (also errors)"
    )


class PromptSummary(_Strict):
    """Per-prompt view of one model, so outliers show."""

    prompt_id: str
    n: int
    latency_s_mean: float | None = None
    ttft_s_mean: float | None = None
    completion_tokens_mean: float | None = None
    errors: int = 0


_NO_SAMPLES = Stats(n=0)


class Resources(_Strict):
    """What one model cost the machine (``resources`` of a row). Every figure is optional: a remote
    server's memory, RAPL or a GPU may be out of reach, and the reason is kept instead."""

    load_s: float | None = None
    disk_mb: float | None = None
    download_mb: float | None = None
    first_request_ttft_s: float | None = Field(None, description="the warm-up's TTFT: the cold first answer")
    warm_ttft_s: float | None = None
    cold_start_s: float | None = Field(
        None, description="load_s + first_request_ttft_s: what a user's first answer of the day waits for"
    )
    peak_rss_mb: float | None = None
    predicted_mb: float | None = Field(
        None, description="RAM predicted from the GGUF header before the load (models.fit), beside the peak"
    )
    steady_rss_mb: float | None = None
    baseline_rss_mb: float | None = None
    rss_samples: int | None = None
    memory_source: str | None = None
    memory_unavailable: str | None = None
    measured_wall_s: float | None = None
    other_load_pct: float | None = None
    energy_j: float | None = None
    energy_source: Literal["measured", "estimated"] | None = None
    energy_method: str | None = None
    energy_j_per_token: float | None = None
    cost_per_mtok: float | None = None
    price_per_kwh: float | None = None
    memory_bandwidth_gbs: float | None = None
    decode_ceiling_tok_s: float | None = None
    roofline_ratio: float | None = None
    max_memory_mb: float | None = None
    fits_memory: bool | None = None
    gpu_peak_memory_mb: float | None = None
    gpu_util_mean_pct: float | None = None


class CheckSummary(_Strict):
    """Deterministic checks over one model's answers."""

    total: int = 0
    passed: int = 0
    pass_rate: float | None = None
    outputs_all_passed: int = 0
    outputs: int = 0
    by_check: dict[str, float] = Field(default_factory=dict)


class PairwiseStanding(_Strict):
    """One model in the pairwise ranking: record, win rate, Bradley-Terry strength (log) and its 95% CI."""

    wins: int = 0
    losses: int = 0
    ties: int = 0
    comparisons: int = 0
    win_rate: float | None = None
    bt: float = 0.0
    bt_ci95: list[float] | None = None


class ReferenceScores(_Strict):
    """One model's answers against the cases' gold references: means over cases, with 95% intervals."""

    n: int = 0
    rouge_l: float | None = None
    rouge_l_ci95: list[float] | None = None
    term_recall: float | None = None
    term_recall_ci95: list[float] | None = None


class FactScores(_Strict):
    """Planted facts one model's answers kept (``quality.facts``): every share is over (answer, fact)
    pairs; ``owner_right``/``due_right`` over the action items recalled; invented owners and dates
    counted over all answers."""

    answers: int = 0
    checked: int = 0
    recalled: int = 0
    recall: float | None = None
    by_position: dict[str, float] = Field(default_factory=dict)
    by_length: dict[str, float] = Field(default_factory=dict)
    by_kind: dict[str, float] = Field(default_factory=dict)
    actions_recalled: int = 0
    owner_right: float | None = None
    due_right: float | None = None
    invented_owners: int = 0
    invented_dates: int = 0


class FieldScores(_Strict):
    """Structured notes read field by field against the gold facts (``quality.fields``): recall over
    every answer to a case with facts (an answer that is not a notes object recalls nothing),
    precision over the decisions and action items the answers list, owner and due date over the
    actions recalled."""

    answers: int = 0
    parsed: int = 0
    decision_recall: float | None = None
    decision_precision: float | None = None
    action_recall: float | None = None
    action_precision: float | None = None
    owner_right: float | None = None
    owner_wrong: int = 0
    due_right: float | None = None
    due_wrong: int = 0
    question_recall: float | None = None
    number_recall: float | None = None
    invented_owners: int = 0


class ModelQuality(_Strict):
    """One model's quality: the score (people over qualified judges, per case), the same score trusting
    every judge, reference figures, checks, aspects, pairwise standing."""

    mean: float | None = None
    ci95: list[float] | None = None
    n: int = 0
    n_outputs: int = 0
    source: str | None = None
    mean_trusting_judges: float | None = None
    """As ``mean``, but counting unqualified judges too (what ``recommend --trust-judge`` uses)."""
    ci95_trusting_judges: list[float] | None = None
    source_trusting_judges: str | None = None
    unqualified_judges: list[str] = Field(default_factory=list)
    """Judges that scored this model without qualifying: shown, left out of ``mean``."""
    reference: ReferenceScores | None = None
    judge_mean: float | None = None
    human_mean: float | None = None
    judges: list[str] = Field(default_factory=list)
    judged: int = 0
    unparsed: int = 0
    unparsed_rate: float | None = None
    self_judging_skipped: bool = False
    human_scored: int = 0
    checks: CheckSummary = Field(default_factory=CheckSummary)
    check_pass_rate: float | None = None
    aspect_coverage: dict[str, float] = Field(default_factory=dict)
    aspect_coverage_mean: float | None = None
    pairwise: PairwiseStanding | None = None
    facts: FactScores | None = None
    fields: FieldScores | None = None


class QualificationResult(_Strict):
    """A judge on the calibration set in one mode: which corruptions it caught, its biases, its cost."""

    qualified: bool = False
    accuracy: float | None = None
    passed: int = 0
    items: int = 0
    by_kind: dict[str, bool] = Field(default_factory=dict)
    unparsed: int = 0
    position_bias: float | None = None
    score_spread: float | None = None
    gold_mean: float | None = None
    corrupt_mean: float | None = None
    failed_requests: int = 0
    """Requests that got no answer: a mode with any is incomplete, never qualified."""
    verdicts: int = 0
    seconds_per_verdict: float | None = None


class Qualification(_Strict):
    """Judge qualification (``quality.calibration``): the set's version, the pass mark, the prompt
    version of each mode when tested, each mode's result."""

    calibration: str
    threshold: float
    prompts: dict[str, str] = Field(default_factory=dict)
    rubric: QualificationResult | None = None
    pairwise: QualificationResult | None = None

    def qualified(self, mode: Literal["rubric", "pairwise"]) -> bool:
        part = self.rubric if mode == "rubric" else self.pairwise
        return part is not None and part.qualified


class JudgeInfo(_Strict):
    """One judge: how it was run, whether it qualified, and what its verdicts cost (rubric and pairwise,
    separately)."""

    alias: str | None = None
    qualification: Qualification | None = None
    skipped_self: list[str] = Field(default_factory=list)
    disk_mb: float | None = None
    engine: str | None = None
    rubric: str | None = None
    verdicts: int = 0
    unparsed: int = 0
    retried: int = 0
    seconds_per_verdict: float | None = None
    seconds_per_verdict_p50: float | None = None
    pairwise_rubric: str | None = None
    pairwise_verdicts: int = 0
    pairwise_unparsed: int = 0
    pairwise_retried: int = 0
    pairwise_seconds_per_verdict: float | None = None
    pairwise_seconds_per_verdict_p50: float | None = None

    def qualified(self, mode: Literal["rubric", "pairwise"]) -> bool:
        """Passed qualification in ``mode`` (never tested: False)."""
        return self.qualification is not None and self.qualification.qualified(mode)


class Agreement(_Strict):
    """A judge against people on the answers both scored."""

    n: int = 0
    exact: float | None = None
    within_one: float | None = None
    kappa_quadratic: float | None = None
    spearman: float | None = None


class PairwiseRanking(_Strict):
    """Order-swapped pairwise verdicts combined: every model's standing, best first in ``order``."""

    models: dict[str, PairwiseStanding] = Field(default_factory=dict)
    order: list[str] = Field(default_factory=list)
    comparisons: int = 0
    position_consistency: float | None = None
    unparsed: int = 0
    verdicts: int = 0


class RunQuality(_Strict):
    """The run's quality: judges, the cases, agreement with people, the pairwise ranking, notes."""

    judges: dict[str, JudgeInfo] = Field(default_factory=dict)
    cases: int = 0
    cases_with_aspects: int = 0
    cases_with_checks: int = 0
    shared_aspects: list[str] = Field(default_factory=list)
    agreement: dict[str, Agreement] = Field(default_factory=dict)
    notes: list[str] = Field(default_factory=list)
    pairwise: PairwiseRanking | None = None


def _none_if_empty(v: Any) -> Any:
    return None if v == {} else v


def _block_json(q: BaseModel | None) -> dict[str, Any]:
    return {} if q is None else q.model_dump(mode="json")


# A quality block that may be absent: None in code, ``{}`` in summary.json (as before it was typed).
ModelQualityBlock = Annotated[
    ModelQuality | None, BeforeValidator(_none_if_empty), PlainSerializer(_block_json)
]
RunQualityBlock = Annotated[RunQuality | None, BeforeValidator(_none_if_empty), PlainSerializer(_block_json)]


class SloTermResult(_Strict):
    """One ``--slo`` term against the model's statistic."""

    term: str
    value: float | None = None
    met: bool = False


class SloResult(_Strict):
    """A model against the run's ``--slo`` (``slo.py``): each term, all met, and its goodput."""

    met: bool = False
    terms: list[SloTermResult] = Field(default_factory=list)
    good_requests: int = 0
    requests: int = 0
    goodput_per_s: float | None = None


class ClientLoad(_Strict):
    """The measuring client over a window (``client_load.py``): its loop lag, its CPU, and whether it
    was the limit (then ``why`` says how)."""

    loop_lag_p50_s: float | None = None
    loop_lag_p99_s: float | None = None
    """The laggiest process's loop lag (by p99), with ``--workers``."""
    cpu_share: float | None = None
    """CPU seconds per wall second of the busiest process of the client (an in-process engine's
    included in its process's)."""
    processes: int = 1
    """Processes the client ran in: 1, or the schedule's plus ``--workers`` processes."""
    samples: int = 0
    limited: bool = False
    why: str | None = None


class StageSummary(_Strict):
    """One load stage of ``--profile`` (``capacity.py``): its load, what it achieved, its statistics."""

    label: str
    kind: Literal["closed", "open"]
    concurrency: int | None = None
    offered_rate_per_s: float | None = None
    """The asked rate of an open-loop stage; None for a closed loop (its load is a concurrency)."""
    achieved_rate_per_s: float | None = None
    """The rate the server sustained: (n - 1) / (last end - first end) over the stage's successful
    requests, warm-up ones included (``metrics.definitions.completion_rate``)."""
    output_tokens_per_s: float | None = None
    mean_in_flight: float | None = None
    """Requests in flight on average (sum of scheduled-send-to-end times / the window): its load."""
    requests: RequestCounts = Field(default_factory=RequestCounts)
    cut_off: int = 0
    """Requests still running when the stage's time ran out, or scheduled but never given a slot
    under --max-concurrency (in ``requests.error``, and failures for the SLO: the backlog)."""
    out_of_time: int = 0
    """Requests the run's --max-seconds cut off: left out of every other figure of the stage."""
    error_rate: float | None = None
    """Failed requests / requests, cut-off ones left out of both (the clock, not the model, ended them)."""
    stats: dict[str, Stats] = Field(default_factory=dict)
    """STATS of ``STAGE_METRICS`` over the stage's successful measured requests."""
    slo: SloResult | None = None
    client: ClientLoad | None = None


class Capacity(_Strict):
    """The highest rate that met the SLO, interpolated between the stages around it (``capacity.py``)."""

    per_s: float | None = None
    basis: Literal["interpolated", "at least", "none met"] = "none met"
    """``interpolated`` between ``below`` (met) and ``above`` (missed); ``at least``: the fastest stage
    met it, so the limit lies higher; ``none met``: not even the slowest stage met it (``per_s`` 0)."""
    below: str | None = None
    above: str | None = None
    limiting: str | None = None
    """The SLO term that crossed its limit first between ``below`` and ``above``."""


class LoadSummary(_Strict):
    """A model under ``--profile``: each stage, the saturation rate and, with ``--slo``, capacity."""

    stages: list[StageSummary] = Field(default_factory=list)
    saturation_per_s: float | None = None
    """The highest achieved rate of any stage."""
    capacity: Capacity | None = None


def _is_stats(v: Any) -> bool:
    """A STATS object of the data contract (``n`` and the statistics, nothing else)."""
    return isinstance(v, dict) and "n" in v and set(v) <= set(Stats.model_fields)


class ModelSummary(_Strict):
    """One model's row. ``model`` is the name exactly as the user gave it.

    Metric values live in ``stats`` (request metrics: STATS) and ``windows`` (one value per model),
    keyed by the names in ``metrics.definitions``; in summary.json each is a top-level key of the row
    (the data contract), and reading a row lifts those keys back, so a metric registered by a plugin
    is saved and read like a built-in one. Built-ins are also attributes (``row.ttft_s``)."""

    model: str
    backend: str
    status: Literal["ok", "error", "skipped"]
    error: str | None = None
    requests: RequestCounts = Field(default_factory=RequestCounts)
    stats: dict[str, Stats] = Field(default_factory=dict)
    windows: dict[str, float | None] = Field(default_factory=dict)
    tokens: TokenInfo = Field(default_factory=TokenInfo)
    errors_by_kind: dict[str, int] = Field(default_factory=dict)
    per_prompt: list[PromptSummary] = Field(default_factory=list)
    sample_response: str | None = None
    info: dict[str, Any] = Field(default_factory=dict)
    resources: Resources = Field(default_factory=Resources)
    quality: ModelQualityBlock = None
    """None (``{}`` in summary.json) for a run without saved prompt cases."""
    slo: SloResult | None = None
    """Against the run's ``--slo``; None without one."""
    load: LoadSummary | None = None
    """Per stage of the run's ``--profile``; None without one."""
    client: ClientLoad | None = None
    """The measuring client over the model's measured phase; None for a run rebuilt from its records."""

    @model_validator(mode="before")
    @classmethod
    def _lift_metrics(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        data = dict(data)
        st = dict(data.pop("stats", None) or {})
        wn = dict(data.pop("windows", None) or {})
        for m in definitions.all_metrics():
            if m.name in data:
                (st if m.kind == "request" else wn)[m.name] = data.pop(m.name)
            elif m.kind == "request":
                st.setdefault(m.name, _NO_SAMPLES)
            else:
                wn.setdefault(m.name, None)
        for key in [k for k, v in data.items() if k not in cls.model_fields and _is_stats(v)]:
            st[key] = data.pop(key)  # a metric registered by a plugin that is not loaded here: kept
        return {**data, "stats": st, "windows": wn}

    @model_serializer(mode="wrap")
    def _flatten_metrics(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        d: dict[str, Any] = handler(self)
        st, wn = d.pop("stats", None) or {}, d.pop("windows", None) or {}
        for m in definitions.all_metrics():
            if m.kind == "request":
                d[m.name] = st.pop(m.name, None) or _NO_SAMPLES.model_dump()
            else:
                d[m.name] = wn.pop(m.name, None)
        return {**d, **st, **wn}  # and any metric no longer registered, as it was read

    def stat(self, name: str) -> Stats:
        """STATS of a request metric (no samples when it was not measured)."""
        return self.stats.get(name, _NO_SAMPLES)

    def window(self, name: str) -> float | None:
        return self.windows.get(name)

    @property
    def ttft_s(self) -> Stats:
        return self.stat("ttft_s")

    @property
    def latency_s(self) -> Stats:
        return self.stat("latency_s")

    @property
    def tpot_s(self) -> Stats:
        return self.stat("tpot_s")

    @property
    def itl_s(self) -> Stats:
        return self.stat("itl_s")

    @property
    def decode_tokens_per_s(self) -> Stats:
        return self.stat("decode_tokens_per_s")

    @property
    def output_tokens_per_s(self) -> Stats:
        return self.stat("output_tokens_per_s")

    @property
    def latency_from_scheduled_s(self) -> Stats:
        return self.stat("latency_from_scheduled_s")

    @property
    def ttft_from_scheduled_s(self) -> Stats:
        return self.stat("ttft_from_scheduled_s")

    @property
    def aggregate_output_tokens_per_s(self) -> float | None:
        return self.window("aggregate_output_tokens_per_s")


class ToolInfo(_Strict):
    name: str = "bakeoff"
    version: str = __version__


class RunInfo(_Strict):
    settings: dict[str, Any]
    environment: dict[str, Any]
    started_at: str
    finished_at: str | None = None
    wall_s: float | None = None
    interrupted: bool = False
    notes: list[str] = Field(default_factory=list)


class Summary(_Strict):
    schema_version: int = SCHEMA_VERSION
    tool: ToolInfo = Field(default_factory=ToolInfo)
    run: RunInfo
    models: list[ModelSummary] = Field(default_factory=list)
    quality: RunQualityBlock = None
    """Run-level quality (judges, agreement, pairwise ranking, notes); None (``{}``) without cases."""


def save_json(model: BaseModel, path: Path) -> Path:
    """Write a saved report atomically (a crash never leaves half a file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(model.model_dump(mode="json"), indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path


def save_summary(summary: Summary, out_dir: Path) -> Path:
    """Write ``summary.json`` atomically (a crash never leaves half a file)."""
    return save_json(summary, out_dir / "summary.json")


def load_records(run_dir: Path) -> list[dict[str, Any]]:
    """The run's ``records.jsonl`` as dicts (unreadable lines skipped, see ``unreadable_lines``;
    empty when there is none)."""
    return list(iter_records(run_dir))


def iter_records(run_dir: Path) -> Iterator[dict[str, Any]]:
    """The run's records one at a time, read line by line (a long run's file is never held whole);
    unreadable lines are skipped as by ``load_records``."""
    for _, row in _read_lines(run_dir):
        if row is not None:
            yield row


def unreadable_lines(run_dir: Path) -> list[int]:
    """The 1-based numbers of the lines of ``records.jsonl`` that are not a JSON object (a line cut
    short by a kill, or damage): ``load_records`` leaves them out, and a rebuilt summary names them."""
    return [n for n, row in _read_lines(run_dir) if row is None]


def _read_lines(run_dir: Path) -> Iterator[tuple[int, dict[str, Any] | None]]:
    path = (run_dir if run_dir.is_dir() else run_dir.parent) / "records.jsonl"
    if not path.exists():
        return
    with path.open(encoding="utf-8") as fh:
        for n, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                row = None
            yield n, row if isinstance(row, dict) else None


def measured_samples(records: Iterable[dict[str, Any]], model: str, metric: str) -> list[float]:
    """One metric's per-request values for a model: measured (not warm-up), successful requests."""
    return [float(x) for x in measured_sample_arrays(records, [metric]).get(model, {}).get(metric, [])]


def measured_sample_arrays(
    records: Iterable[dict[str, Any]], metrics: Sequence[str]
) -> dict[str, dict[str, np.ndarray]]:
    """``measured_samples`` of several metrics for every model, in one pass over the records, kept as
    float64 arrays (8 bytes a value, in record order): model -> metric -> values."""
    cols: dict[str, dict[str, array[float]]] = {}
    for r in records:
        if r.get("warmup") or r.get("status") != "ok":
            continue
        mine = cols.get(r.get("model"))  # type: ignore[arg-type]
        if mine is None:
            mine = cols[str(r.get("model"))] = {m: array("d") for m in metrics}
        got = r.get("metrics") or {}
        for m in metrics:
            v = got.get(m)
            if isinstance(v, list):  # a metric with several samples per request (ITL)
                mine[m].extend(float(x) for x in v)
            elif v is not None:
                mine[m].append(float(v))
    return {name: {m: np.frombuffer(a, dtype=np.float64) for m, a in c.items()} for name, c in cols.items()}


def load_summary(path: Path) -> Summary:
    """Read a saved summary (a run folder or the file itself)."""
    if path.is_dir():
        path = path / "summary.json"
    elif not path.exists():
        raise UsageError(f"{path} does not exist", hint="pass the folder that `bakeoff bench --out` wrote")
    if not path.exists():
        hint = "pass the folder that `bakeoff bench --out` wrote"
        if (path.parent / "records.jsonl").exists():
            hint = f"the run was killed before writing it: `bakeoff report {path.parent}` rebuilds it"
        raise ReportError(f"{path} not found", hint=hint)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ReportError(f"{path} is not readable JSON: {exc}") from None
    version = data.get("schema_version") if isinstance(data, dict) else None
    if not isinstance(version, int):
        raise ReportError(f"{path} has no schema_version; it was not written by bakeoff")
    if version > SCHEMA_VERSION:
        raise ReportError(
            f"{path} uses schema version {version}; this bakeoff reads up to {SCHEMA_VERSION}",
            hint="upgrade bakeoff to read it",
        )
    try:
        return Summary.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        raise ReportError(f"{path}: {loc}: {err['msg']}") from None
