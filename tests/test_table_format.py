"""The summary tables a person reads at a glance: long names shortened readably (full id kept in the
JSON), the spread beside each mean, request throughput and the aggregate rate shown (issue 15)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from rich.console import Console

from bakeoff.metrics.stats import stats
from bakeoff.reporters.format import short_name, short_names
from bakeoff.reporters.markdown import render_markdown
from bakeoff.reporters.report import RunReport
from bakeoff.reporters.terminal import summary_table
from bakeoff.results.schema import ModelSummary, RunInfo, Summary, save_summary

GGUF = (
    "/home/someone/.cache/llama.cpp/models/"
    "bartowski_SmolLM2-135M-Instruct-GGUF_SmolLM2-135M-Instruct-Q8_0.gguf"
)


def _row(name: str) -> ModelSummary:
    return ModelSummary(
        model=name,
        backend="openai",
        status="ok",
        latency_s=stats([0.140, 0.150, 0.148]),
        ttft_s=stats([0.099, 0.1]),
        decode_tokens_per_s=stats([146.6, 140.0]),
        output_tokens_per_s=stats([54.8, 53.1, 56.5]),
        windows={"aggregate_output_tokens_per_s": 54.6, "request_throughput_per_s": 6.82},
    )


def _summary(*names: str) -> Summary:
    run = RunInfo(settings={"rounds": 1}, environment={}, started_at="2026-11-27T00:00:00+00:00")
    return Summary(run=run, models=[_row(n) for n in names])


def _render(summary: Summary, width: int) -> str:
    console = Console(width=width, record=True, emoji=False, color_system=None)
    console.print(summary_table(summary))
    return console.export_text()


def test_a_file_path_id_keeps_its_file_name_and_squeezes_nothing(tmp_path: Path) -> None:
    s = _summary(GGUF, "smollm2-135m")
    text = _render(s, 160)
    rows = [ln for ln in text.splitlines() if "│" in ln]
    assert len(rows) == 2  # one line per model (the header uses another border)
    body = "\n".join(rows)
    # every other cell is whole: the spread, the request rate, the aggregate rate
    for cell in ("146.0 ms ± 5.3", "54.8 ± 1.7", "6.82", "54.6", "smollm2-135m"):
        assert cell in body, cell
    assert "Req/s" in text and "Agg tok/s" in text
    assert "…" not in text.replace(short_name(GGUF), "")  # the only ellipsis is in the long name
    assert short_name(GGUF).startswith("…/") and short_name(GGUF).endswith("Q8_0.gguf")
    save_summary(s, tmp_path)
    assert json.loads((tmp_path / "summary.json").read_text())["models"][0]["model"] == GGUF  # full id


def test_spread_by_hand() -> None:
    # latency 0.140, 0.150, 0.148: mean 0.146; deviations -6, +4, +2 ms; (36 + 16 + 4) / 2 = 28 ms^2
    # std = sqrt(28) = 5.29 ms -> "146.0 ms ± 5.3"
    md = render_markdown(RunReport(_summary("m")))
    assert "| m | ok | 146.0 ms ± 5.3 |" in md
    # output tok/s 54.8, 53.1, 56.5: mean 54.8; deviations 0, -1.7, +1.7; (2.89 * 2) / 2 -> std 1.7
    assert "54.8 ± 1.7" in md
    assert "| 54.6 | 6.82 |" in md  # aggregate tok/s, then requests per second


@pytest.mark.parametrize(
    ("name", "short"),
    [
        ("smollm2-135m", "smollm2-135m"),
        ("/m/" + "x" * 40 + ".gguf", "…/" + "x" * 13 + "…" + "x" * 11 + ".gguf"),  # 15 + … + 16
        ("a" * 40, "a" * 15 + "…" + "a" * 16),
    ],
)
def test_short_name(name: str, short: str) -> None:
    assert short_name(name) == short and len(short_name(name)) <= 32


def test_two_paths_with_one_file_name_stay_apart() -> None:
    a = "/models/first-folder-with-a-long-name/model-q4_k_m.gguf"
    b = "/models/other-folder-with-a-long-name/model-q4_k_m.gguf"
    sa, sb = short_names([a, b])
    assert sa != sb and len(sa) <= 32 and len(sb) <= 32


def test_names_alike_at_both_ends_are_numbered() -> None:
    a = "x" * 20 + "-first-" + "y" * 20
    b = "x" * 20 + "-other-" + "y" * 20
    sa, sb = short_names([a, b])
    assert sa != sb and sa.endswith("#1") and sb.endswith("#2")
