"""Configuration: models.json and prompt sets validate with errors naming file, line and key."""

from __future__ import annotations

from pathlib import Path

import pytest

from bakeoff.backends.targets import resolve_targets
from bakeoff.config.settings import env_overrides, load_models_file, load_prompts, normalize_endpoint
from bakeoff.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def test_session_shape_models_json(tmp_path: Path) -> None:
    p = write(
        tmp_path, "models.json", '{"qwen2.5-0.5b": {"capabilities": ["chat", "summarize"], "size_mb": 500}}'
    )
    specs = load_models_file(p)
    assert specs["qwen2.5-0.5b"].capabilities == ["chat", "summarize"]
    # no backend, no path: a model id at the endpoint
    t = resolve_targets(["qwen2.5-0.5b"], specs, "http://127.0.0.1:5273/v1")[0]
    assert t.backend == "openai" and t.spec is not None
    assert t.spec.model is None and t.spec.base_url == "http://127.0.0.1:5273/v1"


def test_unknown_key_names_file_line_and_key(tmp_path: Path) -> None:
    text = '{\n  "a": {"capabilities": []},\n  "b": {\n    "size_mb": 3,\n    "sise_mb": 4\n  }\n}\n'
    p = write(tmp_path, "models.json", text)
    with pytest.raises(ConfigError) as ei:
        load_models_file(p)
    msg = str(ei.value)
    assert f"{p}:5" in msg and "b.sise_mb" in msg and "unknown key" in msg
    assert ei.value.exit_code == 2


def test_wrong_type_names_key(tmp_path: Path) -> None:
    p = write(tmp_path, "models.json", '{"a": {\n "size_mb": "big"\n}}')
    with pytest.raises(ConfigError, match=r"models.json:2 \[a.size_mb\]"):
        load_models_file(p)


def test_bad_json_gives_line(tmp_path: Path) -> None:
    p = write(tmp_path, "models.json", '{\n  "a": {"size_mb": 3,}\n}')
    with pytest.raises(ConfigError, match=r"models.json:2: invalid JSON"):
        load_models_file(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_models_file(tmp_path / "nope.json")


def test_prompts_as_strings_and_objects(tmp_path: Path) -> None:
    p = write(
        tmp_path,
        "prompts.json",
        '["Explain RAG.", {"id": "sum", "prompt": "Summarize.", "system": "Be brief.", "max_tokens": 16}]',
    )
    cases = load_prompts(p)
    assert [c.id for c in cases] == ["p1", "sum"]
    assert cases[1].messages()[0] == {"role": "system", "content": "Be brief."}
    assert cases[1].max_tokens == 16


def test_prompt_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="non-empty JSON list"):
        load_prompts(write(tmp_path, "a.json", "[]"))
    with pytest.raises(ConfigError, match=r"b.json:3 \[\[1\].max_tokens\]"):
        load_prompts(write(tmp_path, "b.json", '[\n "x",\n {"prompt": "y", "max_tokens": 0}\n]'))
    with pytest.raises(ConfigError, match="duplicate prompt id"):
        load_prompts(write(tmp_path, "c.json", '[{"id": "a", "prompt": "x"}, {"id": "a", "prompt": "y"}]'))
    with pytest.raises(ConfigError, match=r"unknown key 'promt'"):
        load_prompts(write(tmp_path, "d.json", '[{"promt": "x"}]'))


def test_endpoint_normalization() -> None:
    assert normalize_endpoint("http://h:5273") == "http://h:5273/v1"
    assert normalize_endpoint("http://h:5273/v1/") == "http://h:5273/v1"
    with pytest.raises(ConfigError):
        normalize_endpoint("h:5273")


def test_env_overrides() -> None:
    env = {
        "BENCH_MODELS": "a, b",
        "BENCH_ROUNDS": "5",
        "BENCH_STREAM": "0",
        "BENCH_MAX_TOKENS": "32",
        "BENCH_TEMPERATURE": "0.5",
        "BENCH_PROMPT": "hi",
        "FOUNDRY_LOCAL_ENDPOINT": "http://x:5273",
    }
    o = env_overrides(env)
    assert o == {
        "models": ["a", "b"],
        "rounds": 5,
        "stream": False,
        "max_tokens": 32,
        "temperature": 0.5,
        "prompt": "hi",
        "endpoint": "http://x:5273",
    }
    with pytest.raises(ConfigError, match="BENCH_ROUNDS"):
        env_overrides({"BENCH_ROUNDS": "three"})


def test_resolve_targets_rules(tmp_path: Path) -> None:
    gguf = write(tmp_path, "m.gguf", "x")
    ts = resolve_targets(["smollm2-135m", "openai:foo", f"llamacpp:{gguf}", "llamacpp:/nope.gguf"], {}, None)
    assert [t.backend for t in ts] == ["llamacpp", "openai", "llamacpp", "llamacpp"]
    assert ts[0].spec is not None and ts[0].spec.embedded == "smollm2-135m"
    assert ts[1].spec is not None and ts[1].spec.model == "foo"
    # a well-formed name whose file is missing fails that model at run time, the run goes on
    assert ts[3].error and "no GGUF file" in ts[3].error
    # a name that means nothing is a configuration error before anything runs
    with pytest.raises(ConfigError, match="unknown model 'mystery'"):
        resolve_targets(["smollm2-135m", "mystery"], {}, None)
    # with an endpoint, any name that is not a user alias is a model id there
    ep = "http://127.0.0.1:1/v1"
    t = resolve_targets(["smollm2-135m", "llamacpp:smollm2-135m"], {}, ep)
    assert t[0].backend == "openai" and t[1].backend == "llamacpp"
