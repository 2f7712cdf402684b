"""``bakeoff view`` (issue 31): the run index, its pages and rating, through the real app (Starlette's
test client over ASGI) on runs made against the fake server."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

pytest.importorskip("starlette")
from starlette.testclient import TestClient

from bakeoff.analysis.recommend import recommend
from bakeoff.config.settings import Aspect, PromptCase
from bakeoff.quality.store import load_human, load_pairs
from bakeoff.results.index import RunIndex, run_folders, run_id
from bakeoff.results.schema import load_summary
from bakeoff.serve.guard import allowed_hosts
from bakeoff.testing import FakePlan, FakeServer
from bakeoff.view.app import create_view_app

from .conftest import bench

CASES = [
    PromptCase(id="p1", prompt="Summarize: we ship Friday.", aspects=[Aspect(id="date", text="says Friday")]),
    PromptCase(id="p2", prompt="Summarize: Ana owns the budget."),
]


def _set_env(run: Path, commit: str, started: str, committed: str, source: str) -> None:
    """Give a run a known commit, commit date, start time and prompt source (a test's runs start
    within a second of each other, from one commit)."""
    data = json.loads((run / "summary.json").read_text())
    data["run"]["environment"]["git"] = {"commit": commit, "dirty": commit.startswith("b"),
                                         "committed_at": committed}  # fmt: skip
    data["run"]["started_at"] = started
    data["run"]["settings"]["prompts_source"] = source
    (run / "summary.json").write_text(json.dumps(data))


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("view")
    fast, slow = FakePlan(ttft_ms=5, itl_ms=1, tokens=6), FakePlan(ttft_ms=60, itl_ms=8, tokens=6)
    with FakeServer(fast, {"fast": fast, "slow": slow}) as srv:
        bench(srv.base_url, ["fast", "slow"], root / "old", CASES, rounds=2)
        bench(srv.base_url, ["fast"], root / "new", CASES, rounds=2)
    # new ran later, from a commit made earlier (a bisect, or an old release measured again)
    _set_env(
        root / "old",
        "a" * 40,
        "2026-12-01T10:00:00+00:00",
        "2026-11-20T09:00:00+00:00",
        "suite meeting-notes",
    )
    _set_env(root / "new", "b" * 40, "2026-12-02T10:00:00+00:00", "2026-11-02T09:00:00+00:00", "prompts.json")
    (root / "nested" / "broken").mkdir(parents=True)
    (root / "nested" / "broken" / "summary.json").write_text("{not json")
    (root / "killed").mkdir()
    shutil.copy(root / "new" / "records.jsonl", root / "killed" / "records.jsonl")
    return root


def _copy(runs: Path, tmp_path: Path) -> Path:
    dst = tmp_path / "runs"
    shutil.copytree(runs, dst)
    return dst


def test_the_index_reads_every_run_and_skips_what_it_cannot(runs: Path, tmp_path: Path) -> None:
    assert sorted(p.name for p in run_folders([runs])) == ["broken", "killed", "new", "old"]
    index = RunIndex(tmp_path / "i.sqlite")
    done, skipped = index.reindex([runs])
    assert sorted(Path(r.path).name for r in done) == ["new", "old"]
    why = {Path(s.path).name: s.reason for s in skipped}
    assert "not readable JSON" in why["broken"]
    assert "summary.json not found" in why["killed"] and "bakeoff report" in why["killed"]
    listed = index.runs()
    assert [Path(r.path).name for r in listed] == ["new", "old"]  # newest first
    old = index.get(run_id(runs / "old"))
    assert (
        old is not None and old.models == ("fast", "slow") and old.commit == "a" * 40 and old.dirty is False
    )
    s = load_summary(runs / "old")
    assert old.figures["slow"]["ttft_s.p50"] == s.models[1].stats["ttft_s"].p50
    assert old.figures["fast"]["requests.ok"] == 4.0  # 2 prompts x 2 rounds
    # filters: a model's substring, a commit prefix, the machine
    assert [Path(r.path).name for r in index.runs(model="SLO")] == ["old"]
    assert [Path(r.path).name for r in index.runs(commit="bbb")] == ["new"]
    assert index.runs(commit="c") == []
    assert len(index.runs(machine=old.machine[:4])) == 2
    # the suite is what the run asked for, and filters
    assert old.suite == "suite meeting-notes"
    assert [Path(r.path).name for r in index.runs(suite="MEETING")] == ["old"]
    # a trend: oldest first, one point per run and model; by commit, in the commits' own order
    trend = index.trend("ttft_s.p50", "fast")
    assert [Path(r.path).name for r, _, _ in trend] == ["old", "new"]
    assert [Path(r.path).name for r, _, _ in index.trend("ttft_s.p50", "fast", by="commit")] == ["new", "old"]
    # the index survives being rebuilt and does not double anything
    index.reindex([runs], fresh=True)
    assert len(index.runs()) == 2 and len(index.skipped()) == 2


def test_a_damaged_summary_is_skipped_and_every_other_run_still_opens(runs: Path, tmp_path: Path) -> None:
    root = _copy(runs, tmp_path)
    index = RunIndex(tmp_path / "i.sqlite")
    index.reindex([root])
    client = TestClient(create_view_app(index, None, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    (root / "old" / "summary.json").write_text('{"schema_version": 1, "garbage": true}')
    page = client.get("/")
    assert page.status_code == 200
    assert "Skipped folders" in page.text and str(root / "old") in page.text
    assert client.get(f"/run/{run_id(root / 'new')}").status_code == 200
    gone = client.get(f"/run/{run_id(root / 'old')}")
    assert gone.status_code == 404
    # damage the index cannot see: a byte that is not UTF-8 in records.jsonl, a human.jsonl line that is
    # not a score. The page says what is wrong; nothing is a bare 500
    with (root / "new" / "records.jsonl").open("ab") as fh:
        fh.write(b"\xff\xfe garbage\n")
    broken = client.get(f"/run/{run_id(root / 'new')}")
    assert broken.status_code == 500 and "could not be read: UnicodeDecodeError" in broken.text
    assert client.get(f"/run/{run_id(root / 'new')}/report").status_code == 500
    api = client.post(f"/api/run/{run_id(root / 'new')}/rate", json={"rater": "a", "row_id": "x", "score": 3})
    assert api.status_code in (400, 500) and api.json()["error"]
    # a summary nested too deep to parse, and one naming a model twice: skipped or indexed, never fatal
    (root / "deep").mkdir()
    (root / "deep" / "summary.json").write_text("[" * 100_000)
    twice = json.loads((runs / "old" / "summary.json").read_text())
    twice["models"].append(twice["models"][0])
    (root / "twice").mkdir()
    (root / "twice" / "summary.json").write_text(json.dumps(twice))
    done, skipped = index.reindex([root])
    assert str(root / "deep") in {s.path for s in skipped}
    assert str((root / "twice").resolve()) in {r.path for r in done}
    assert client.get("/").status_code == 200


def test_pages_list_open_compare_and_trend(runs: Path, tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "i.sqlite")
    index.reindex([runs])
    client = TestClient(create_view_app(index, None, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    old, new = run_id(runs / "old"), run_id(runs / "new")
    listing = client.get("/")
    assert listing.status_code == 200 and listing.text.count("<tr data-run=") == 2
    assert "Content-Security-Policy" in listing.headers
    assert client.get("/", params={"model": "slow"}).text.count("<tr data-run=") == 1
    page = client.get(f"/run/{old}")
    assert page.status_code == 200 and "Answers" in page.text and "p1" in page.text
    report = client.get(f"/run/{old}/report")
    assert report.text.startswith("<!doctype html>") and "Recommendation" in report.text
    records = client.get(f"/run/{old}/records")
    # 2 models x 2 prompts x 2 rounds, and each model's warm-up
    assert records.text.count("<td class='good'>ok</td>") == 10 and records.text.count(">warm-up<") == 2
    cmp = client.get("/compare", params=[("ids", new), ("ids", old), ("rules", "ttft_s.p50>+10%")])
    assert cmp.status_code == 200
    assert "Base: <a href='/run/" + old in cmp.text  # the oldest is the base, whatever the order given
    assert "class='verdict" in cmp.text and "ttft_s.p50" in cmp.text
    assert "Only in base: slow" in cmp.text
    assert client.get("/compare", params={"ids": old}).status_code == 400
    assert client.get("/compare", params=[("ids", old), ("ids", "feedfeedfeed")]).status_code == 404
    assert client.get("/compare", params=[("ids", old), ("ids", new), ("rules", "bogus")]).status_code == 400
    trend = client.get("/trend", params={"metric": "ttft_s.p50", "rule": "10"})
    assert trend.status_code == 200 and "<polyline" in trend.text and "class=rule" in trend.text
    for bad in ("nan", "inf", "ten"):
        assert client.get("/trend", params={"rule": bad}).status_code == 400
    assert client.get("/run/000000000000").status_code == 404
    api = client.get("/api/runs").json()
    assert len(api["runs"]) == 2 and len(api["skipped"]) == 2


def test_a_web_page_cannot_drive_the_view_and_a_key_guards_it(runs: Path, tmp_path: Path) -> None:
    index = RunIndex(tmp_path / "i.sqlite")
    index.reindex([runs])
    open_app = TestClient(
        create_view_app(index, None, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1"
    )
    assert open_app.get("/", headers={"host": "attacker.example"}).status_code == 421
    rid = run_id(runs / "old")
    body = json.dumps({"rater": "x", "row_id": "y", "score": 3})
    plain = open_app.post(f"/api/run/{rid}/rate", content=body, headers={"content-type": "text/plain"})
    assert plain.status_code == 415
    evil = open_app.post(
        f"/api/run/{rid}/rate",
        content=body,
        headers={"content-type": "application/json", "origin": "http://evil.example"},
    )
    assert evil.status_code == 403
    keyed = TestClient(
        create_view_app(index, "s3cret", allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1"
    )
    assert keyed.get("/").status_code == 401
    assert keyed.get("/", params={"key": "wrong"}).status_code == 401
    assert keyed.get("/", headers={"authorization": "Bearer s3cret"}).status_code == 200
    first = keyed.get("/", params={"key": "s3cret"}, follow_redirects=False)
    assert first.status_code == 303 and "key=" not in first.headers["location"]
    assert keyed.get("/").status_code == 200  # the cookie now
    odd = TestClient(
        create_view_app(index, "a+b/c=&#", allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1"
    )
    assert (
        odd.get("/?key=a%2Bb%2Fc%3D%26%23", follow_redirects=False).status_code == 303
    )  # as the CLI prints it
    # bound to every address, the app answers to the names it was given, and no other
    wide = TestClient(
        create_view_app(index, "k", allowed_hosts("0.0.0.0", ["box.lan"])), base_url="http://box.lan"
    )
    assert wide.get("/", headers={"authorization": "Bearer k"}).status_code == 200
    other = wide.get("/", headers={"authorization": "Bearer k", "host": "evil.example"})
    assert other.status_code == 421 and "bakeoff view with --allowed-host" in other.text


def test_rating_in_the_browser_goes_to_the_annotation_store_and_recommend(runs: Path, tmp_path: Path) -> None:
    root = _copy(runs, tmp_path)
    index = RunIndex(tmp_path / "i.sqlite")
    index.reindex([root])
    client = TestClient(create_view_app(index, None, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    folder = root / "old"
    rid = run_id(folder)
    assert "Who is rating?" in client.get(f"/rate/{rid}").text
    page = client.get(f"/rate/{rid}", params={"rater": "ana"})
    assert "4 of 4 left" in page.text.replace("<span id=left>", "").replace("</span>", "")
    assert "fast" not in page.text and "slow" not in page.text  # blind: no model name on the page
    key = {r.split(",")[0]: r.split(",")[1] for r in (folder / "annotation-key.csv").read_text().split()[1:]}
    assert sorted(key.values()) == ["fast", "fast", "slow", "slow"]
    given = {"fast": 4, "slow": 2}
    for row, model in key.items():
        r = client.post(
            f"/api/run/{rid}/rate",
            json={"rater": "ana", "row_id": row, "score": given[model], "aspects": {}, "notes": "ok"},
        )
        assert r.status_code == 200, r.text
    assert "All 4 answers rated" in client.get(f"/rate/{rid}", params={"rater": "ana"}).text
    # a second rater is kept apart; the answer's human score is the raters' mean
    slow_row = next(r for r, m in key.items() if m == "slow")
    client.post(f"/api/run/{rid}/rate", json={"rater": "ben", "row_id": slow_row, "score": 5, "aspects": {}})
    humans = load_human(folder)
    assert len(humans) == 5 and {h.rater for h in humans} == {"ana", "ben"}
    summary = load_summary(folder)
    q = {m.model: m.quality for m in summary.models}
    assert q["fast"] is not None and q["fast"].human_mean == 4.0 and q["fast"].human_scored == 2
    # slow: one prompt's answer (2, 5) -> 3.5, the other's 2 -> the mean over prompts is 2.75
    assert q["slow"] is not None and q["slow"].human_mean == pytest.approx(2.75)
    rec = recommend(summary, folder)
    values = {c.model: c.values for c in rec.candidates}
    assert values["fast"]["quality"] == pytest.approx(4.0) and values["slow"]["quality"] == pytest.approx(
        2.75
    )
    # bad ratings are refused with a reason, nothing kept
    bad = [
        {"rater": "ana", "row_id": slow_row, "score": 6},
        {"rater": "ana", "row_id": "nope", "score": 3},
        {"rater": "<script>", "row_id": slow_row, "score": 3},
        {"rater": "ana", "row_id": slow_row, "score": 3, "aspects": {"nosuch": "y"}},
    ]
    for b in bad:
        r = client.post(f"/api/run/{rid}/rate", json=b)
        assert r.status_code == 400 and r.json()["error"]
    assert len(load_human(folder)) == 5


def test_aspect_marks_and_pairwise_verdicts(runs: Path, tmp_path: Path) -> None:
    root = _copy(runs, tmp_path)
    index = RunIndex(tmp_path / "i.sqlite")
    index.reindex([root])
    client = TestClient(create_view_app(index, None, allowed_hosts("127.0.0.1")), base_url="http://127.0.0.1")
    folder = root / "old"
    rid = run_id(folder)
    client.get(f"/rate/{rid}", params={"rater": "ana"})  # writes the key
    key = [r.split(",") for r in (folder / "annotation-key.csv").read_text().split()[1:]]
    p1 = next(r for r in key if r[2] == "p1")
    r = client.post(
        f"/api/run/{rid}/rate", json={"rater": "ana", "row_id": p1[0], "score": 3, "aspects": {"date": "p"}}
    )
    assert r.status_code == 200
    (h,) = load_human(folder)
    assert h.aspects == {"date": 0.5}
    page = client.get(f"/rate/{rid}/pairs", params={"rater": "ana"})
    assert "2 of 2 pairs left" in page.text and "fast" not in page.text
    first = page.text.split("data-first='")[1].split("'")[0]
    second = page.text.split("data-second='")[1].split("'")[0]
    r = client.post(
        f"/api/run/{rid}/prefer", json={"rater": "ana", "first": first, "second": second, "winner": "A"}
    )
    assert r.status_code == 200, r.text
    (v,) = load_pairs(folder)
    assert v.judge == "human:ana" and v.winner == "A" and {v.first, v.second} == {"fast", "slow"}
    assert "1 of 2 pairs left" in client.get(f"/rate/{rid}/pairs", params={"rater": "ana"}).text
    summary = load_summary(folder)
    assert summary.quality is not None and summary.quality.pairwise is not None
    assert "human:ana" not in summary.quality.judges  # a person is no judge to qualify
    assert not [n for n in summary.quality.notes if "not qualified" in n]
    assert (
        "the pairwise ranking counts 1 verdicts of people (ana, rated in `bakeoff view`)"
        in summary.quality.notes
    )
    winner = v.first
    assert summary.quality.pairwise.models[winner].wins == 1
    for body in (
        {"first": first, "second": first, "winner": "A"},
        {"first": first, "second": second, "winner": "C"},
        {"first": first, "second": "nope", "winner": "tie"},
    ):
        assert client.post(f"/api/run/{rid}/prefer", json={"rater": "ana", **body}).status_code == 400
    # two answers of the same case: the fake server gives both models the same text, told apart by row
    assert len(load_pairs(folder)) == 1


def test_the_commands_a_user_types(runs: Path, tmp_path: Path) -> None:
    from .test_cli import run

    idx = str(tmp_path / "i.sqlite")
    r = run("view", str(runs), "--index-only", "--index", idx)
    assert r.returncode == 0, r.stderr
    assert f"indexed 2 runs, skipped 2 in {idx}" in r.stdout
    assert "skipped" in r.stderr and "broken" in r.stderr and "Traceback" not in r.stderr
    again = run("view", "--reindex", "--index-only", "--index", idx)  # rebuilt from the folders it knew
    assert "indexed 2 runs, skipped 2" in again.stdout
    known = run("view", "--index-only", "--index", idx)  # nothing new to index: says what it holds
    assert (
        "indexed 0 runs, skipped 0" in known.stdout
        and "it holds 2 runs and 2 skipped folders" in known.stdout
    )
    wide = run("view", str(runs), "--host", "0.0.0.0", "--no-open", "--index", idx)
    assert wide.returncode == 2 and "BAKEOFF_VIEW_KEY" in wide.stderr
    gone = run("view", str(tmp_path / "nope"), "--index-only", "--index", idx)
    assert gone.returncode == 2 and "does not exist" in gone.stderr
    junk = tmp_path / "junk.sqlite"
    junk.write_text("not a database, just text " * 100)
    bad = run("view", "--index-only", "--index", str(junk))
    assert bad.returncode == 1 and "not a bakeoff run index" in bad.stderr and "Traceback" not in bad.stderr


def test_an_index_of_another_version_is_rebuilt_from_its_folders(runs: Path, tmp_path: Path) -> None:
    import sqlite3

    path = tmp_path / "i.sqlite"
    RunIndex(path).reindex([runs])
    db = sqlite3.connect(path)
    db.execute("PRAGMA user_version = 1")  # as an older bakeoff left it
    db.commit()
    db.close()
    again = RunIndex(path)
    assert sorted(Path(r.path).name for r in again.runs()) == ["new", "old"]
    assert len(again.skipped()) == 2


def test_bench_adds_its_run_to_the_users_index(tmp_path: Path) -> None:
    import os

    data = Path(os.environ["BAKEOFF_DATA_DIR"])  # conftest points it at a folder of the test session
    plan = FakePlan(ttft_ms=1, itl_ms=0, tokens=2)
    with FakeServer(plan, {"m": plan}) as srv:
        bench(srv.base_url, ["m"], tmp_path / "run", CASES, rounds=1)
    index = RunIndex(data / "runs.sqlite")
    assert index.get(run_id(tmp_path / "run")) is not None
