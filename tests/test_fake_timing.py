"""The harness measures a server with known timing: token counts exact, timings close to the plan,
streaming and not, concurrency 1 and 8.

The formulas are tested exactly on recorded timestamps (test_known_answers.py); here the bounds are
generous, because a shared 2-core CI machine can stall any process for several milliseconds. The
accuracy itself (TTFT within 2 ms of the server's plan, TPOT within 0.5 ms) is a benchmark:
``python bench/fake_accuracy.py``, results in bench/RESULTS.md."""

from __future__ import annotations

from pathlib import Path

import pytest

from .conftest import bench, read_records

TTFT, ITL, N = 0.200, 0.020, 64
SLACK = 0.025  # seconds a busy machine may add to one reading


@pytest.mark.parametrize("concurrency", [1, 8])
def test_streaming_matches_plan(fake, tmp_path: Path, concurrency: int) -> None:
    s = bench(fake.base_url, ["good"], tmp_path, rounds=4 if concurrency == 1 else 8, concurrency=concurrency)
    m = s.models[0]
    assert m.status == "ok" and m.requests.error == 0
    assert m.requests.ok == (8 if concurrency == 1 else 16)
    assert m.ttft_s.n == m.requests.ok
    assert TTFT <= m.ttft_s.p50 < TTFT + SLACK, m.ttft_s  # never earlier than the server sent it
    assert abs(m.tpot_s.p50 - ITL) < 0.002, m.tpot_s
    assert abs(m.decode_tokens_per_s.p50 - 1 / ITL) < 5
    assert TTFT + (N - 1) * ITL <= m.latency_s.p50 < TTFT + (N - 1) * ITL + SLACK
    assert m.tokens.completion_mean == N and m.tokens.source == "usage"
    # prompt tokens come from the server's usage: one per word of each prompt
    # (plus the three-word tag that keeps a server's prompt cache from answering repeated prompts)
    assert m.tokens.prompt_mean == pytest.approx((3 + 4) / 2 + 3)
    # output tokens/s per request = N / E2E, not (prompt + completion) / E2E
    assert abs(m.output_tokens_per_s.p50 - N / (TTFT + (N - 1) * ITL)) < 1.0
    # percentiles lie inside the samples
    for st in (m.ttft_s, m.latency_s, m.tpot_s):
        assert st.min <= st.p50 <= st.p95 <= st.p99 <= st.max
    if concurrency == 8:
        # 8 in flight: aggregate throughput is several times one stream's rate
        assert m.aggregate_output_tokens_per_s > 4 * N / (TTFT + (N - 1) * ITL)


@pytest.mark.parametrize("concurrency", [1, 8])
def test_non_streaming_reports_latency_and_tokens_only(fake, tmp_path: Path, concurrency: int) -> None:
    s = bench(fake.base_url, ["good"], tmp_path, rounds=4, stream=False, concurrency=concurrency)
    m = s.models[0]
    assert m.status == "ok"
    assert m.ttft_s.n == 0 and m.ttft_s.p50 is None  # unknown, not zero
    assert m.tpot_s.n == 0 and m.decode_tokens_per_s.n == 0
    assert TTFT + (N - 1) * ITL <= m.latency_s.p50 < TTFT + (N - 1) * ITL + SLACK
    assert m.tokens.completion_mean == N and m.tokens.source == "usage"


def test_chunks_carrying_several_tokens(fake, tmp_path: Path) -> None:
    s = bench(fake.base_url, ["chunky"], tmp_path, rounds=2)
    m = s.models[0]
    assert m.tokens.completion_mean == 60
    # 15 chunks of 4 tokens, 40 ms apart: ITL per token is 10 ms
    assert abs(m.itl_s.p50 - 0.010) < 0.002
    assert 0.100 <= m.ttft_s.p50 < 0.100 + SLACK


def test_warmup_is_recorded_but_excluded(fake, tmp_path: Path) -> None:
    s = bench(fake.base_url, ["good"], tmp_path, rounds=1, warmup=2)
    recs = read_records(tmp_path)
    assert [r["warmup"] for r in recs] == [True, True, False, False]
    assert s.models[0].requests.ok == 2 and s.models[0].latency_s.n == 2


def test_missing_usage_is_flagged_estimated(fake, tmp_path: Path) -> None:
    s = bench(fake.base_url, ["nousage"], tmp_path, rounds=1)
    m = s.models[0]
    assert m.tokens.source == "estimated"
    assert m.tokens.completion_mean == 20  # one chunk per token on this server
    assert "estimated" in (tmp_path / "report.md").read_text()


def test_a_server_batching_tokens_without_usage_is_not_counted_by_chunks(tmp_path: Path) -> None:
    """16 tokens sent 4 to a chunk, no usage: the chunks (4) are a floor, not the count. The answer is
    "w0 " .. "w15 " (10 x 3 + 6 x 4 = 54 characters): 54 / 4 = 13.5, rounded 14 tokens, closer to the
    truth than 4; ITL spreads the 14 over the chunks (the first carries 14/4 = 3.5) instead of reading
    each 40 ms chunk gap as one token's; every token figure is marked ~ in the tables."""
    from bakeoff.reporters.terminal import summary_table
    from bakeoff.testing import FakePlan, FakeServer

    plan = FakePlan(ttft_ms=20, itl_ms=10, tokens=16, tokens_per_chunk=4, usage=False)
    with FakeServer(plan, {"batchy": plan}) as srv:
        s = bench(srv.base_url, ["batchy"], tmp_path, rounds=1)
    m = s.models[0]
    assert m.tokens.source == "estimated" and m.tokens.completion_mean == 14
    # chunk gaps are 4 x 10 ms = 40 ms, each carrying (14 - 3.5) / 3 = 3.5 tokens: 40 / 3.5 ms per token
    assert abs(m.itl_s.p50 - 0.040 / 3.5) < 0.003
    from rich.console import Console

    con = Console(width=250, record=True)
    con.print(summary_table(s))
    row = next(line for line in con.export_text().splitlines() if "batchy" in line)
    cells = [c.strip() for c in row.split("│")]
    assert any(c.startswith("~") for c in cells)  # decode rate, TPS, aggregate rate
    assert not any(c.startswith("~") and c.endswith(" s") for c in cells)  # latency is no estimate
    md_rows = [x for x in (tmp_path / "report.md").read_text().splitlines() if x.startswith("| batchy |")]
    decode = f"{m.decode_tokens_per_s.p50:.1f}"  # in the summary and the quality-beside-speed tables
    rate_rows = [x for x in md_rows if f" {decode} " in x or f"~{decode} " in x]
    assert len(rate_rows) == 2 and all(f"~{decode}" in x for x in rate_rows), (decode, md_rows)


@pytest.mark.realmodel
def test_tokenizer_counts_the_answers_of_a_server_without_usage(tmp_path: Path) -> None:
    """The same batching server, with ``--tokenizer`` a real GGUF: every answer is counted with that
    vocabulary (checked here by llama.cpp's own tokenize call), marked "counted", never ~."""
    pytest.importorskip("llama_cpp")
    import llama_cpp

    from bakeoff.models import embedded
    from bakeoff.testing import FakePlan, FakeServer

    gguf = embedded.ensure(embedded.EMBEDDED["smollm2-135m"])
    vocab = llama_cpp.Llama(model_path=str(gguf), vocab_only=True, verbose=False)
    text = "".join(f"w{i} " for i in range(16))
    truth = len(vocab.tokenize(text.encode(), add_bos=False, special=False))
    assert truth not in (4, 14)  # neither the chunks nor the characters / 4: the test can tell them apart
    plan = FakePlan(ttft_ms=20, itl_ms=10, tokens=16, tokens_per_chunk=4, usage=False)
    with FakeServer(plan, {"batchy": plan}) as srv:
        s = bench(srv.base_url, ["batchy"], tmp_path, rounds=1, tokenizer=str(gguf))
    m = s.models[0]
    assert m.tokens.source == "counted" and m.tokens.completion_mean == truth
    recs = read_records(tmp_path)
    assert {r["completion_tokens"] for r in recs} == {truth} and {r["token_source"] for r in recs} == {
        "counted"
    }
    first = truth / 4  # four chunks carry the counted tokens evenly: 40 ms per chunk over truth/4 tokens each
    assert abs(m.itl_s.p50 - 0.040 / ((truth - first) / 3)) < 0.003
    assert "counted with --tokenizer" in (tmp_path / "report.md").read_text()
