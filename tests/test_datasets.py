"""--dataset (issue 12, third part): CSV, JSON Lines, JSON lists and ShareGPT / OpenAI conversations read
offline; a missing column names the file and the columns it has; sampling is fixed by the seed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.errors import ConfigError, UsageError
from bakeoff.workload.datasets import load_dataset
from tests.test_cli import run as cli


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_csv_rows_by_column(tmp_path: Path) -> None:
    f = write(tmp_path / "q.csv", 'id,question\n1,"What is RAG?"\n2,\n3,"Say ""hi"", twice"\n')
    cases = load_dataset(f, "question")
    # row 2 is empty and skipped; ids are the file's stem and the row's number
    assert [(c.id, c.prompt) for c in cases] == [("q-1", "What is RAG?"), ("q-3", 'Say "hi", twice')]
    with pytest.raises(ConfigError, match=r"q\.csv:1: no column 'prompt' \(its columns: id, question\)"):
        load_dataset(f)
    # a quoted field may hold a newline
    g = write(tmp_path / "multi.csv", 'prompt\n"line one\nline two"\n\nnext\n')  # a blank line is not a row
    assert [(c.id, c.prompt) for c in load_dataset(g)] == [
        ("multi-1", "line one\nline two"),
        ("multi-2", "next"),
    ]


def test_jsonl_with_fields_and_conversations(tmp_path: Path) -> None:
    lines = [
        {"prompt": "plain one"},
        {"conversations": [{"from": "system", "value": "be brief"}, {"from": "human", "value": "sharegpt"},
                           {"from": "gpt", "value": "answer"}, {"from": "human", "value": "second turn"}]},
        {"messages": [{"role": "system", "content": "x"}, {"role": "user", "content": "openai style"}]},
        {"conversations": [{"from": "gpt", "value": "no user turn"}]},
    ]  # fmt: skip
    f = write(tmp_path / "d.jsonl", "\n".join(json.dumps(x) for x in lines) + "\n\n")
    assert [(c.id, c.prompt) for c in load_dataset(f)] == [
        ("d-1", "plain one"),
        ("d-2", "sharegpt"),  # the first user turn only
        ("d-3", "openai style"),
    ]
    bad = write(tmp_path / "bad.jsonl", '{"prompt": "ok"}\n{"text": "x", "n": 1}\n')
    with pytest.raises(ConfigError, match=r"bad\.jsonl:2: no field 'prompt' \(it has: text, n\)"):
        load_dataset(bad)
    broken = write(tmp_path / "broken.jsonl", '{"prompt": "ok"}\n{"prompt": \n')
    with pytest.raises(ConfigError, match=r"broken\.jsonl:2: not valid JSON"):
        load_dataset(broken)
    # U+2028 inside a string is not a line break of the file; null is skipped; a number is an error
    odd = write(tmp_path / "odd.jsonl", '{"prompt": "a\u2028b"}\n{"prompt": null}\n{"prompt": "c"}\n')
    assert [(c.id, c.prompt) for c in load_dataset(odd)] == [("odd-1", "a\u2028b"), ("odd-3", "c")]
    num = write(tmp_path / "num.jsonl", '{"prompt": 42}\n')
    with pytest.raises(ConfigError, match=r"num\.jsonl:1: the prompt is int, not text"):
        load_dataset(num)
    # OpenAI content parts: the text parts; only the first user turn, even when it is empty
    parts = {
        "messages": [
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "look"},
                    {"type": "image_url", "image_url": {"url": "x"}},
                    {"type": "text", "text": "here"},
                ],
            }
        ]
    }
    first_null = {"conversations": [{"from": "human", "value": None}, {"from": "human", "value": "later"}]}
    both = {"prompt": "the column", "messages": [{"role": "user", "content": "the conversation"}]}
    f2 = write(tmp_path / "conv.jsonl", "\n".join(json.dumps(x) for x in (parts, first_null, both)))
    assert [(c.id, c.prompt) for c in load_dataset(f2)] == [
        ("conv-1", "look\nhere"),
        ("conv-3", "the column"),
    ]


def test_a_sharegpt_json_list(tmp_path: Path) -> None:
    data = [{"id": "a", "conversations": [{"from": "human", "value": f"q{i}"}]} for i in range(3)]
    f = write(tmp_path / "share.json", json.dumps(data))
    assert [(c.id, c.prompt) for c in load_dataset(f)] == [
        ("share-0", "q0"),
        ("share-1", "q1"),
        ("share-2", "q2"),
    ]
    with pytest.raises(ConfigError, match=r"list\.json \[1\]: expected a JSON object, got str"):
        load_dataset(write(tmp_path / "list.json", '[{"prompt": "a"}, "b"]'))


def test_sampling_is_fixed_by_the_seed_and_keeps_file_order(tmp_path: Path) -> None:
    f = write(tmp_path / "many.jsonl", "".join(json.dumps({"prompt": f"p{i}"}) + "\n" for i in range(50)))
    picked = load_dataset(f, samples=5, seed=7)
    # the rows Python's random.Random(7).sample draws from 50 (pinned: the same seed must keep taking
    # the same rows across releases), in file order; ids are lines, row index + 1
    assert [c.id for c in picked] == ["many-4", "many-10", "many-21", "many-26", "many-42"]
    assert [c.id for c in load_dataset(f, samples=5, seed=7)] == [c.id for c in picked]
    assert [c.id for c in load_dataset(f, samples=5, seed=8)] != [c.id for c in picked]
    assert len(load_dataset(f, samples=50)) == 50  # as many as there are: all of them
    with pytest.raises(UsageError, match=r"--samples 51 but .*many\.jsonl has 50 prompt rows"):
        load_dataset(f, samples=51)  # more than there are: a mistake, not a silent "all of them"
    with pytest.raises(UsageError, match="--samples must be at least 1"):
        load_dataset(f, samples=0)


def test_files_that_are_not_datasets(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=r"is not a dataset file"):
        load_dataset(write(tmp_path / "x.txt", "hi"))
    with pytest.raises(UsageError, match=r"cannot read dataset"):
        load_dataset(tmp_path / "missing.csv")
    with pytest.raises(ConfigError, match=r"empty\.csv: no prompts found"):
        load_dataset(write(tmp_path / "empty.csv", "prompt\n\n"))
    (tmp_path / "latin.csv").write_bytes(b"prompt\ncaf\xe9\n")
    with pytest.raises(ConfigError, match=r"latin\.csv: not UTF-8 text"):
        load_dataset(tmp_path / "latin.csv")


def test_bench_on_a_dataset_against_the_fake_server(fake, tmp_path: Path) -> None:
    f = write(tmp_path / "qs.csv", "question\nfirst\nsecond\nthird\n")
    out = tmp_path / "run"
    r = cli(
        "bench", "--endpoint", fake.base_url, "-m", "good", "-r", "1", "--warmup", "0", "--max-tokens", "4",
        "--dataset", str(f), "--column", "question", "--samples", "2", "-o", str(out),
    )  # fmt: skip
    assert r.returncode == 0, r.stderr
    ids = {json.loads(x)["prompt_id"] for x in (out / "records.jsonl").read_text().splitlines()}
    assert ids == {"qs-2", "qs-3"}  # random.Random(0).sample(range(3), 2) -> rows 2 and 3 (pinned)
    assert (
        "(column question, 2 rows drawn with seed 0)"
        in json.loads((out / "summary.json").read_text())["run"]["settings"]["prompts_source"]
    )
    r = cli(
        "bench", "--endpoint", fake.base_url, "-m", "good", "--dataset", str(f), "-o", str(tmp_path / "x")
    )
    assert r.returncode == 2 and "qs.csv:1: no column 'prompt' (its columns: question)" in r.stderr
    r = cli("bench", "-m", "good", "--endpoint", fake.base_url, "--samples", "2", "-o", str(tmp_path / "y"))
    assert r.returncode == 2 and "--column and --samples go with --dataset" in r.stderr
