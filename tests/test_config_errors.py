"""Configuration errors are configuration errors: caught before any model loads, exit 2, one message
naming the file, line and key with the known values (issue 15). Run as a user types them."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.test_cli import run


def _models_file(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "models.json"
    p.write_text(text, encoding="utf-8")
    return p


@pytest.mark.parametrize(
    ("text", "line", "key", "says"),
    [
        # a misspelt backend
        (
            '{\n  "ok": {"embedded": "smollm2-135m"},\n'
            '  "mine": {"backend": "llamacp", "path": "x.gguf"}\n}\n',
            3,
            "mine.backend",
            "unknown backend 'llamacp'; known backends: adapter, foundry, llamacpp, openai",
        ),
        # an engine option llama.cpp does not have
        (
            '{\n  "mine": {\n    "embedded": "smollm2-135m",\n    "options": {"n_ctxx": 512}\n  }\n}\n',
            2,
            "mine.options",
            "unknown llamacpp options ['n_ctxx']; known: ",
        ),
        # options of the wrong type or out of range: caught here, not as a TypeError or a 5 GB load
        (
            '{\n  "mine": {\n    "embedded": "smollm2-135m",\n    "options": {"n_ctx": "2048"}\n  }\n}\n',
            2,
            "mine.options",
            "options.n_ctx must be a whole number from 64 to 1048576, got '2048'",
        ),
        (
            '{\n  "mine": {"embedded": "smollm2-135m", "options": {"n_ctx": -5}}\n}\n',
            2,
            "mine.options",
            "options.n_ctx must be a whole number from 64 to 1048576, got -5",
        ),
        (
            '{\n  "mine": {"embedded": "smollm2-135m", "options": {"n_ctx": 100000000}}\n}\n',
            2,
            "mine.options",
            "options.n_ctx must be a whole number from 64 to 1048576, got 100000000",
        ),
        (
            '{\n  "mine": {"embedded": "smollm2-135m", "options": {"n_threads": 0}}\n}\n',
            2,
            "mine.options",
            "options.n_threads must be a whole number from 1 to 1024, got 0",
        ),
        (
            '{\n  "mine": {"embedded": "smollm2-135m", "options": {"n_threads": 2.5, "top_p": 1.5}}\n}\n',
            2,
            "mine.options",
            "options.n_threads must be a whole number from 1 to 1024, got 2.5",
        ),
        (
            '{\n  "mine": {"embedded": "smollm2-135m", "options": {"use_mmap": "yes"}}\n}\n',
            2,
            "mine.options",
            "options.use_mmap must be true or false, got 'yes'",
        ),
        # an endpoint's key on an in-process entry: it would be silently ignored
        (
            '{\n  "a": {"embedded": "smollm2-135m"},\n'
            '  "mine": {"embedded": "smollm2-135m", "model": "x"}\n}\n',
            3,
            "mine.model",
            "a llamacpp entry does not read 'model'; it reads chat_format, embedded, options, path, "
            "reuse_prompt_cache",
        ),
    ],
)
def test_a_bad_models_json_entry_stops_before_anything_runs(
    tmp_path: Path, text: str, line: int, key: str, says: str
) -> None:
    p = _models_file(tmp_path, text)
    out = tmp_path / "run"
    r = run("bench", "--models-file", str(p), "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert f"{p}:{line} [{key}]: {says}" in r.stderr
    assert "Traceback" not in r.stderr and "nothing was run" in r.stderr
    assert not out.exists()  # no model loaded, no reports of a failed model with "0 MB"


@pytest.mark.parametrize(
    ("models", "says"),
    [
        ("smollm2-135m,smolm2-135m", "unknown model 'smolm2-135m': not an alias (gemma3-270m, qwen2.5-coder"),
        (
            "llamacp:smollm2-135m",
            "unknown backend 'llamacp' in 'llamacp:smollm2-135m' (did you mean 'llamacpp'?)",
        ),
        ("llama3:8b", "unknown model 'llama3:8b': not an alias"),  # an Ollama tag without --endpoint
        ("llamacpp:", "'llamacpp:' names no model after 'llamacpp:'"),
    ],
)
def test_an_unknown_name_stops_before_anything_runs(tmp_path: Path, models: str, says: str) -> None:
    out = tmp_path / "run"
    r = run("bench", "--models", models, "--out", str(out))
    assert r.returncode == 2, r.stderr
    assert says in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_every_problem_is_listed_at_once(tmp_path: Path) -> None:
    r = run("bench", "--models", "nope1,llamacp:x,nope1", "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert "'nope1' is named 2 times" in r.stderr
    assert "unknown backend 'llamacp'" in r.stderr and "unknown model 'nope1'" in r.stderr


def test_duplicate_keys_in_models_json_name_the_key_and_both_lines(tmp_path: Path) -> None:
    p = _models_file(
        tmp_path,
        '{\n  "a": {"embedded": "smollm2-135m"},\n  "b": {"embedded": "gemma3-270m"},\n'
        '  "a": {"embedded": "qwen2.5-coder-0.5b"}\n}\n',
    )
    r = run("bench", "--models-file", str(p), "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert f"{p}:4 [a]: key 'a' appears twice (lines 2 and 4)" in r.stderr
    # the same inside an entry
    p.write_text('{\n  "a": {\n    "embedded": "smollm2-135m",\n    "embedded": "gemma3-270m"\n  }\n}\n')
    r = run("bench", "--models-file", str(p), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "key 'embedded' appears twice (lines 3 and 4)" in r.stderr


def test_an_unknown_prompt_key_hints_the_prompt_keys(tmp_path: Path) -> None:
    p = tmp_path / "prompts.json"
    p.write_text('[\n  {"id": "a", "prompt": "hi", "max_token": 5}\n]\n')
    r = run(
        "bench", "--prompts", str(p), "--models", "x", "-e", "http://127.0.0.1:9", "-o", str(tmp_path / "o")
    )
    assert r.returncode == 2
    assert f"{p}:2 [[0].max_token]: unknown key 'max_token'" in r.stderr
    hint = next(x for x in r.stderr.splitlines() if "allowed keys" in x)
    assert "max_tokens" in hint and "prompt" in hint
    assert "capabilities" not in hint and "base_url" not in hint  # not the models.json keys


@pytest.mark.parametrize("kind", ["prompts", "models"])
def test_a_file_that_is_not_utf8_says_save_it_as_utf8(tmp_path: Path, kind: str) -> None:
    p = tmp_path / f"{kind}.json"
    p.write_bytes(
        '[\n  "caf\u00e9 menu"\n]\n'.encode("latin-1") if kind == "prompts" else b'{\n "m\xe9": {}\n}\n'
    )
    flag = "--prompts" if kind == "prompts" else "--models-file"
    r = run("bench", flag, str(p), "-o", str(tmp_path / "o"))
    assert r.returncode == 2
    assert f"{p}:2: not UTF-8 text (byte 0xe9 at offset" in r.stderr and "save it as UTF-8" in r.stderr
    assert "Traceback" not in r.stderr


@pytest.mark.parametrize(
    ("flag", "value"), [("--max-tokens", "-5"), ("--temperature", "-3"), ("--temperature", "9")]
)
def test_run_validates_its_numbers_like_bench(flag: str, value: str) -> None:
    r = run("run", "smollm2-135m", "-p", "hi", flag, value)
    assert r.returncode == 2 and flag in r.stderr and "Traceback" not in r.stderr


def test_a_duplicate_inside_one_entry_names_that_entry_and_its_lines(tmp_path: Path) -> None:
    p = _models_file(
        tmp_path,
        '{\n "a": {"backend": "openai"},\n "b": {"backend": "openai"},\n "c": {"backend": "openai",\n'
        '  "backend": "llamacpp"}\n}\n',
    )
    r = run("bench", "--models-file", str(p), "--out", str(tmp_path / "run"))
    assert r.returncode == 2
    assert f"{p}:5 [c.backend]: key 'backend' appears twice (lines 4 and 5)" in r.stderr


def test_a_source_file_that_is_not_utf8_and_a_byte_order_mark(tmp_path: Path) -> None:
    (tmp_path / "t.txt").write_bytes("caf\u00e9".encode("latin-1"))
    p = tmp_path / "prompts.json"
    p.write_text('[\n  {"id": "a", "prompt": "Summarize: {source}", "source": {"file": "t.txt"}}\n]\n')
    r = run("bench", "--prompts", str(p), "-m", "x", "-e", "http://127.0.0.1:9", "-o", str(tmp_path / "o"))
    assert r.returncode == 2 and "is not UTF-8 text" in r.stderr and "save it as UTF-8" in r.stderr
    assert "Traceback" not in r.stderr
    # a byte-order mark (Notepad's UTF-8) is read, not refused
    from bakeoff.config.settings import load_prompts

    p.write_bytes(b"\xef\xbb\xbf" + b'["hello"]')
    assert [c.prompt for c in load_prompts(p)] == ["hello"]


def test_unknown_options_of_the_other_backends_are_refused_too(tmp_path: Path) -> None:
    p = _models_file(tmp_path, '{"a": {"adapter": "x.py:Y", "options": {"temprature": 1}}}')
    r = run("bench", "--models-file", str(p), "--out", str(tmp_path / "run"))
    assert r.returncode == 2 and "unknown adapter options ['temprature']" in r.stderr
