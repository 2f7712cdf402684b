"""The real embedded models through llama-cpp-python (few tokens, one round: CI runs on 2 cores)."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.backends.targets import ModelTarget, resolve_targets
from bakeoff.config.settings import BenchSettings, ModelSpec, PromptCase
from bakeoff.run.bench import run_bench

if importlib.util.find_spec("llama_cpp") is None:
    if os.environ.get("BAKEOFF_REQUIRE_REALMODEL"):
        raise RuntimeError("llama-cpp-python is required here (BAKEOFF_REQUIRE_REALMODEL is set)")
    pytest.skip("llama-cpp-python not installed", allow_module_level=True)

pytestmark = pytest.mark.realmodel

LONG = PromptCase(
    id="long",
    prompt="Summarize these meeting notes in one sentence. "
    + " ".join(
        f"Item {i}: the team reviewed the budget for the offline summarizer and agreed on next steps."
        for i in range(12)
    ),
)


def _run(targets: list[ModelTarget], out: Path, prompts: list[PromptCase], **kw: object):
    settings = BenchSettings(models=[t.name for t in targets], **kw)  # type: ignore[arg-type]
    return run_bench(settings, prompts, targets, out)


def test_smollm2_streams_with_native_token_counts(tmp_path: Path) -> None:
    s = _run(
        resolve_targets(["smollm2-135m"], {}, None),
        tmp_path,
        [PromptCase(id="p1", prompt="List 3 privacy benefits of local inference.")],
        rounds=2,
        warmup=1,
        max_tokens=12,
    )
    m = s.models[0]
    assert m.status == "ok", m.error
    assert m.requests.ok == 2 and m.tokens.source == "native"
    assert m.tokens.completion_mean is not None and 1 <= m.tokens.completion_mean <= 12
    assert m.tokens.prompt_mean is not None and m.tokens.prompt_mean > 8
    assert 0 < m.ttft_s.p50 < m.latency_s.p50
    assert m.decode_tokens_per_s.n == 2 and m.decode_tokens_per_s.p50 > 1
    assert m.sample_response and m.sample_response.strip()
    assert m.info["chat_format"] == "gguf chat template" and m.info["disk_mb"] == pytest.approx(98.4, abs=0.1)
    recs = [json.loads(x) for x in (tmp_path / "records.jsonl").read_text().splitlines()]
    # each event carries the tokens it holds; they add up to the native count
    for r in recs:
        assert sum(e[1] for e in r["events"]) == r["completion_tokens"]
    # temperature 0: both measured rounds give the same answer
    outs = {r["output"] for r in recs if not r["warmup"]}
    assert len(outs) == 1


def test_gpu_layers_asked_of_a_cpu_build_are_labelled_as_what_ran(tmp_path: Path) -> None:
    """Issue 27/32: ``n_gpu_layers: 99`` on this CPU-only llama.cpp build ran on the CPU, and says so."""
    import llama_cpp

    assert not llama_cpp.llama_supports_gpu_offload()  # this machine's build (CI's too): no GPU
    spec = ModelSpec(backend="llamacpp", embedded="smollm2-135m", options={"n_gpu_layers": 99})
    s = _run([ModelTarget("smol-gpu", "llamacpp", spec)], tmp_path, [PromptCase(id="p", prompt="Hi")],
             rounds=1, warmup=0, max_tokens=2)  # fmt: skip
    info = s.models[0].info
    assert s.models[0].status == "ok"
    assert info["device"] == "cpu" and info["gpu_layers_asked"] == 99 and info["gpu_layers_offloaded"] == 0
    assert "CPU" in info["engine_build"].split(", ")
    assert any(
        n.startswith("smol-gpu: n_gpu_layers=99 was asked") and "ran on the CPU" in n for n in s.run.notes
    )


def test_identical_prompt_does_not_silently_reuse_kv_cache(tmp_path: Path) -> None:
    fresh = ModelTarget("fresh", "llamacpp", ModelSpec(backend="llamacpp", embedded="smollm2-135m"))
    reuse = ModelTarget(
        "reuse", "llamacpp", ModelSpec(backend="llamacpp", embedded="smollm2-135m", reuse_prompt_cache=True)
    )
    s = _run([fresh, reuse], tmp_path, [LONG], rounds=2, warmup=1, max_tokens=2)
    f, r = s.models
    assert f.status == r.status == "ok"
    # without reuse every round pays the full prefill; with reuse the repeat is far cheaper
    assert f.ttft_s.min > 0.5 * f.ttft_s.max
    assert r.ttft_s.max < 0.5 * f.ttft_s.min, (f.ttft_s, r.ttft_s)


def test_non_streaming_llamacpp_has_no_ttft(tmp_path: Path) -> None:
    s = _run(
        resolve_targets(["smollm2-135m"], {}, None),
        tmp_path,
        [PromptCase(id="p", prompt="Say hi.")],
        rounds=1,
        warmup=0,
        max_tokens=4,
        stream=False,
    )
    m = s.models[0]
    assert m.status == "ok" and m.ttft_s.n == 0 and m.latency_s.n == 1 and m.tokens.source == "native"


def test_cli_bakeoff_on_all_embedded_models(tmp_path: Path) -> None:
    """The README's main command, shortened: every embedded model answers, reports are written."""
    out = tmp_path / "run"
    r = subprocess.run(
        [
            str(Path(sys.executable).parent / "bakeoff"),
            "bench",
            "--rounds",
            "1",
            "--warmup",
            "0",
            "--max-tokens",
            "4",
            "--prompt",
            "Name one benefit of local inference.",
            "--out",
            str(out),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert r.returncode == 0, r.stderr
    s = json.loads((out / "summary.json").read_text())
    assert [m["model"] for m in s["models"]] == ["smollm2-135m", "qwen2.5-coder-0.5b", "gemma3-270m"]
    for m in s["models"]:
        assert m["status"] == "ok", m
        assert m["backend"] == "llamacpp" and m["tokens"]["source"] == "native"
        assert m["resources"]["load_s"] > 0
    assert s["models"][2]["info"]["chat_format"] == "gemma"
    res = {m["model"]: m["resources"] for m in s["models"]}
    # memory grows with model size; disk sizes match the files
    assert (
        res["smollm2-135m"]["peak_rss_mb"]
        < res["gemma3-270m"]["peak_rss_mb"]
        < res["qwen2.5-coder-0.5b"]["peak_rss_mb"]
    )
    assert res["qwen2.5-coder-0.5b"]["disk_mb"] == pytest.approx(491.4, abs=0.1)
    for rs in res.values():
        assert rs["peak_rss_mb"] > rs["disk_mb"] * 0.8  # the weights are resident while decoding
        assert rs["energy_source"] in ("measured", "estimated") and rs["energy_j_per_token"] > 0
        assert rs["decode_ceiling_tok_s"] > 0
        assert rs["load_s"] > 0 and rs["first_request_ttft_s"] > 0
    ratios = [rs["roofline_ratio"] for rs in res.values() if rs["roofline_ratio"] is not None]
    assert len(ratios) >= 2 and all(0 < x < 2 for x in ratios)  # None only if a model stopped at 1 token
    assert "smollm2-135m" in r.stdout and "qwen2.5-coder-0.5b" in r.stdout


def test_missing_gguf_and_bad_file_fail_only_that_model(tmp_path: Path) -> None:
    junk = tmp_path / "junk.gguf"
    junk.write_bytes(b"not a gguf at all")
    targets = resolve_targets(["smollm2-135m", f"llamacpp:{junk}", "llamacpp:/nonexistent.gguf"], {}, None)
    folder = ModelTarget("folder", "llamacpp", ModelSpec(backend="llamacpp", path=str(tmp_path)))
    out = tmp_path / "run"
    s = _run([*targets, folder], out, [PromptCase(id="p", prompt="Hi")], rounds=1, warmup=0, max_tokens=2)
    good, bad, missing, a_folder = s.models
    assert good.status == "ok"
    assert bad.status == "error" and "could not load" in (bad.error or "")
    assert missing.status == "error" and "no GGUF file" in (missing.error or "")
    assert a_folder.error == (
        f"load failed: {tmp_path} is a folder, not a GGUF file (give 'path' the .gguf file inside it: "
        "llama.cpp loads one file)"
    )


def test_example_adapter_streaming_and_blocking(tmp_path: Path) -> None:
    """examples/models.json: the plain-prompt adapter over SmolLM2, streaming and blocking."""
    from bakeoff.config.settings import load_models_file

    specs = load_models_file(Path(__file__).parent.parent / "examples" / "models.json")
    names = ["smollm2-plain", "smollm2-plain-blocking"]
    s = _run(
        resolve_targets(names, specs, None),
        tmp_path,
        [PromptCase(id="p", prompt="What is 2 + 2?")],
        rounds=1,
        warmup=0,
        max_tokens=8,
    )
    streaming, blocking = s.models
    assert streaming.status == blocking.status == "ok", (streaming.error, blocking.error)
    assert streaming.tokens.source == blocking.tokens.source == "native"
    assert streaming.ttft_s.n == 1 and blocking.ttft_s.n == 0
    assert blocking.info["ttft"].startswith("unavailable")
    assert streaming.sample_response and blocking.sample_response


def test_qwen_judges_a_smollm2_answer(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The real judge path: SmolLM2 answers a short case with aspects, Qwen 0.5B grades it. A weak
    judge may not produce a readable verdict, so either a score 1-5 or an unparsed judgment with the
    raw reply and reason, never anything in between; Qwen's own answers are never judged by Qwen."""
    from bakeoff.quality.aggregate import apply_quality
    from bakeoff.quality.judge import run_judge
    from bakeoff.quality.store import load_cases, load_judgments, outputs
    from bakeoff.records import RequestRecord
    from bakeoff.results.schema import RunQuality, load_records, load_summary

    case = PromptCase(
        id="standup",
        prompt="In one sentence, what was decided?\n\n{source}",
        source="Marco: we ship version 4.2 on Thursday. Dark mode waits for 4.3.",
        max_tokens=24,
        aspects=[{"id": "decisions", "text": "Version 4.2 ships on Thursday"}],
        checks=[{"type": "icontains", "value": "thursday"}],
    )
    _run(
        resolve_targets(["smollm2-135m", "qwen2.5-coder-0.5b"], {}, None),
        tmp_path,
        [case],
        rounds=1,
        warmup=0,
    )
    summary = load_summary(tmp_path)
    recs = [RequestRecord.from_json(d) for d in load_records(tmp_path)]
    judge = resolve_targets(["qwen2.5-coder-0.5b"], {}, None)[0]
    # qualification (11 long verdicts) is skipped to keep this short; bench/RESULTS.md section 10 has it
    res = run_judge(
        tmp_path,
        summary,
        load_cases(tmp_path),
        outputs(recs),
        judge,
        max_tokens=96,
        qualify="skip",
        use_cache=False,  # always ask the model, and leave the user's cache alone
    )
    assert res.skipped_self == ("qwen2.5-coder-0.5b",) and res.judged == 1 and res.fresh == 1
    (j,) = load_judgments(tmp_path)
    assert j.model == "smollm2-135m" and j.raw.strip() and j.seconds > 0
    assert (j.ok and j.score in {1, 2, 3, 4, 5} and j.error is None) or (
        not j.ok and j.score is None and j.error
    )
    summary.quality = RunQuality.model_validate(
        {"judges": {res.judge: {"skipped_self": list(res.skipped_self), "disk_mb": 491.4}}}
    )
    s = apply_quality(summary, tmp_path)
    q = {m.model: m.quality for m in s.models}
    assert q["smollm2-135m"].judged == 1 and q["qwen2.5-coder-0.5b"].judged == 0
    assert q["smollm2-135m"].checks.total == 1
    assert any("was not qualified" in n and "--trust-judge" in n for n in s.quality.notes)
    assert (
        q["smollm2-135m"].mean is None
        and q["smollm2-135m"].mean_trusting_judges == q["smollm2-135m"].judge_mean
    )


def test_a_model_over_the_budget_fails_before_it_loads(tmp_path: Path) -> None:
    from bakeoff.models import embedded
    from bakeoff.models.fit import predict
    from bakeoff.models.gguf_header import read_header

    smol = embedded.EMBEDDED["smollm2-135m"]
    full = predict(read_header(embedded.ensure(smol)), 2048)
    budget = predict(read_header(embedded.model_path(smol)), 1024).ram_mb + 1  # 1024 fits, 2048 does not
    prompts = [PromptCase(id="p", prompt="Say hi.")]
    spec = {"smol": ModelSpec(embedded="smollm2-135m", options={"n_ctx": 2048})}
    s = run_bench(
        BenchSettings(models=["smol"], max_memory_mb=budget, rounds=1, warmup=0, max_tokens=2),
        prompts, resolve_targets(["smol"], spec, None), tmp_path / "refused",
    )  # fmt: skip
    m = s.models[0]
    assert m.status == "error" and m.requests.ok == 0 and m.resources.load_s is None
    assert f"will not fit: predicted {full.total_mb:.0f} MB" in (m.error or "")
    assert "options.n_ctx 1024 would need" in (m.error or "")
    forced = run_bench(
        BenchSettings(models=["smol"], max_memory_mb=budget, force=True, rounds=1, warmup=0, max_tokens=2),
        prompts, resolve_targets(["smol"], spec, None), tmp_path / "forced",
    )  # fmt: skip
    f = forced.models[0]
    assert f.status == "ok", f.error
    assert f.resources.predicted_mb == pytest.approx(full.ram_mb, abs=0.1)
    assert f.info["memory_prediction"]["n_ctx"] == 2048
    # The peak can land under the budget (pages of a mapped file never touched), so the verdict
    # is checked against the measured peak, not assumed to be "over".
    peak = f.resources.peak_rss_mb
    assert peak is not None and f.resources.fits_memory is (peak <= budget)
