"""``--vary`` (issue 27, first part): the settings grammar worked by hand, one row per combination
labelled with its settings, a combination that fails failing its row only, and what really ran."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.backends.targets import ModelTarget, vary_targets
from bakeoff.config.settings import BenchSettings, ModelSpec
from bakeoff.config.vary import label, parse_vary
from bakeoff.errors import UsageError

from .test_cli import run


def test_the_cartesian_product_last_key_fastest() -> None:
    assert parse_vary("n_gpu_layers=0,99;n_threads=1,2") == [
        {"n_gpu_layers": 0, "n_threads": 1}, {"n_gpu_layers": 0, "n_threads": 2},
        {"n_gpu_layers": 99, "n_threads": 1}, {"n_gpu_layers": 99, "n_threads": 2},
    ]  # fmt: skip
    assert [c["n_threads"] for c in parse_vary("n_threads=1..8+3")] == [1, 4, 7]
    assert [c["n_batch"] for c in parse_vary("n_batch=64..512*2")] == [64, 128, 256, 512]
    assert parse_vary("flash_attn=true,false;type_k=q8_0;top_p=0.9") == [
        {"flash_attn": True, "type_k": "q8_0", "top_p": 0.9},
        {"flash_attn": False, "type_k": "q8_0", "top_p": 0.9},
    ]  # fmt: skip
    assert label({"n_gpu_layers": 99, "n_threads": 2, "flash_attn": True, "type_k": "q8_0", "seed": 7}) == (
        "ngl=99 t=2 fa=true ctk=q8_0 seed=7")  # fmt: skip


@pytest.mark.parametrize(
    ("text", "says"),
    [
        ("n_threads", "cannot read --vary part 'n_threads'"),
        ("n_threads=", "cannot read --vary part 'n_threads='"),
        ("=1,2", "cannot read --vary part '=1,2'"),
        ("n_threads=1,,2", "--vary n_threads: an empty value in '1,,2'"),
        ("n_threads=4..1", "--vary n_threads: cannot count '4..1'"),
        ("n_threads=1..8*1", "--vary n_threads: cannot count '1..8*1'"),
        ("n_threads=1,2,1", "--vary n_threads: a value is given twice in '1,2,1'"),
        ("n_threads=1;n_threads=2", "--vary names 'n_threads' twice"),
        (";", "--vary names no setting"),
        ("a=1..16+1;b=1..17+1", "--vary makes 272 combinations; at most 256"),
    ],
)
def test_what_cannot_be_read_is_named(text: str, says: str) -> None:
    with pytest.raises(UsageError) as e:
        parse_vary(text)
    assert e.value.message == says


def test_a_combination_the_engine_refuses_fails_its_row_only() -> None:
    base = ModelTarget(
        "smol", "llamacpp", ModelSpec(backend="llamacpp", embedded="smollm2-135m", options={"n_ctx": 512})
    )
    gone = ModelTarget("gone", "unknown", None, "unknown model")
    rows = vary_targets([base, gone], parse_vary("n_threads=0,2"))
    assert [r.name for r in rows] == ["smol [t=0]", "smol [t=2]", "gone"]
    assert (
        rows[0].spec is None
        and rows[0].error == "options.n_threads must be a whole number from 1 to 1024, got 0"
    )
    assert rows[1].spec is not None and rows[1].spec.options == {"n_ctx": 512, "n_threads": 2}
    assert rows[2] is gone and base.spec is not None and base.spec.options == {"n_ctx": 512}  # nothing shared


def test_a_bad_vary_is_a_usage_error_before_anything_runs(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="cannot read --vary part 'x'"):
        BenchSettings(models=["m"], vary="x")
    r = run("bench", "-m", "smollm2-135m", "--vary", "n_threads=1,,2", "--out", str(tmp_path / "r"))
    assert (
        r.returncode == 2 and "--vary n_threads: an empty value" in r.stderr and "Traceback" not in r.stderr
    )
    assert not (tmp_path / "r").exists()


def test_an_endpoint_gets_each_combination_in_the_request_body(tmp_path: Path) -> None:
    from bakeoff.testing import FakePlan, FakeServer

    from .conftest import bench

    with FakeServer(FakePlan(ttft_ms=2, itl_ms=1, tokens=3)) as srv:
        s = bench(srv.base_url, ["fake-model"], tmp_path, rounds=1, warmup=0, vary="top_k=10,20")
    assert [m.model for m in s.models] == ["fake-model [top_k=10]", "fake-model [top_k=20]"]
    assert all(m.status == "ok" and m.requests.ok == 2 for m in s.models)


@pytest.mark.realmodel
def test_gpu_layers_on_this_cpu_build_give_two_cpu_rows(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    from bakeoff.backends.targets import resolve_targets
    from bakeoff.config.settings import PromptCase
    from bakeoff.run.bench import run_bench

    settings = BenchSettings(
        models=["smollm2-135m"], rounds=1, warmup=0, max_tokens=2, vary="n_gpu_layers=0,99"
    )
    s = run_bench(
        settings, [PromptCase(id="p", prompt="Hi")], resolve_targets(["smollm2-135m"], {}, None), tmp_path
    )
    assert [(m.model, m.info["device"], m.info["gpu_layers_offloaded"]) for m in s.models] == [
        ("smollm2-135m [ngl=0]", "cpu", 0), ("smollm2-135m [ngl=99]", "cpu", 0)]  # fmt: skip
    assert [n.split(":")[0] for n in s.run.notes if "no GPU offload" in n] == ["smollm2-135m [ngl=99]"]


def test_the_hints_say_what_to_write() -> None:
    hints = {}
    for text in ("n_threads", ";", "n_threads=1,,2"):
        with pytest.raises(UsageError) as e:
            parse_vary(text)
        hints[text] = e.value.hint
    assert hints == {
        "n_threads": 'write KEY=V1,V2;KEY2=..., e.g. "n_threads=1,2,4"',
        ";": 'e.g. --vary "n_threads=1,2;n_gpu_layers=0,99"',
        "n_threads=1,,2": "e.g. n_threads=1,2,4",
    }


def test_empty_parts_are_skipped_and_a_value_may_hold_an_equals_sign() -> None:
    assert parse_vary("n_threads=1;;n_batch=8;") == [{"n_threads": 1, "n_batch": 8}]
    assert parse_vary("grammar_hint=a=b") == [{"grammar_hint": "a=b"}]


def test_exactly_the_limit_of_combinations_is_allowed() -> None:
    assert len(parse_vary("a=1..16+1;b=1..16+1")) == 256  # 16 x 16: at the limit, not over it


def test_ranges_at_their_edges() -> None:
    assert [c["t"] for c in parse_vary("t=1..3")] == [1, 2, 3]  # no step: one at a time
    assert [c["t"] for c in parse_vary("t=2..2")] == [2]  # a range of one value
    assert [c["t"] for c in parse_vary("t=1..8*2")] == [1, 2, 4, 8]  # a factor may start at 1
    assert [c["t"] for c in parse_vary("t=1..3,8")] == [1, 2, 3, 8]  # ranges and values mix
    for bad in ("t=0..8*2", "t=1..8*1", "t=4..1", "t=1..4+0"):
        with pytest.raises(UsageError) as e:
            parse_vary(bad)
        assert e.value.message == f"--vary t: cannot count {bad[2:]!r}"
        assert e.value.hint == "a range is a..b+step (1..8+1) or a..b*factor (1..16*2)"
    assert len(parse_vary("t=1..256")) == 256  # as many values as combinations allowed: fine
    with pytest.raises(UsageError) as e:
        parse_vary("t=1..1000000+1")
    assert e.value.message == "--vary t: '1..1000000+1' gives more than 256 values"
