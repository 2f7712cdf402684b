"""The quality blocks of summary.json are typed (issue 11): a summary written before the change loads
and re-saves with the same values, an unknown key is refused, and a run without cases keeps ``{}``."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bakeoff.errors import ReportError
from bakeoff.results.schema import ModelQuality, RunQuality, load_summary, save_summary

BENCH = Path(__file__).parent.parent / "bench"


def test_a_summary_with_every_quality_figure_reloads_unchanged(tmp_path: Path) -> None:
    src = BENCH / "meeting-notes-summary.json"  # judged, pairwise, checks and aspects, written before
    before = json.loads(src.read_text())
    s = load_summary(src)
    assert isinstance(s.quality, RunQuality) and all(isinstance(m.quality, ModelQuality) for m in s.models)
    assert s.quality.judges and s.quality.pairwise is not None
    save_summary(s, tmp_path)
    after = json.loads((tmp_path / "summary.json").read_text())
    for old, new in zip(before["models"], after["models"], strict=True):
        assert kept(old["quality"], new["quality"])
    assert kept(before["quality"], after["quality"])


def kept(old: object, new: object) -> bool:
    """Every key of ``old`` is in ``new`` with the same value (``new`` may hold keys added since)."""
    if isinstance(old, dict) and isinstance(new, dict):
        return all(k in new and kept(v, new[k]) for k, v in old.items())
    return old == new


def test_a_run_without_cases_keeps_an_empty_block(tmp_path: Path) -> None:
    s = load_summary(BENCH / "embedded-run-summary.json")
    assert s.quality is None and all(m.quality is None for m in s.models)
    save_summary(s, tmp_path)
    d = json.loads((tmp_path / "summary.json").read_text())
    assert d["quality"] == {} and all(m["quality"] == {} for m in d["models"])


@pytest.mark.parametrize(
    "where",
    [("models", 0, "quality", "meen"), ("models", 0, "quality", "checks", "pased"), ("quality", "judgez")],
)
def test_an_unknown_quality_key_is_refused_with_its_place(tmp_path: Path, where: tuple[object, ...]) -> None:
    d = json.loads((BENCH / "meeting-notes-summary.json").read_text())
    node = d
    for k in where[:-1]:
        node = node[k]  # type: ignore[index]
    node[where[-1]] = 1  # type: ignore[index]
    (tmp_path / "summary.json").write_text(json.dumps(d))
    with pytest.raises(ReportError, match=str(where[-1])):
        load_summary(tmp_path)


def test_the_saved_qualified_run_reloads_and_renders_its_qualification(tmp_path: Path) -> None:
    """bench/RESULTS.md section 10: Qwen 0.5B judged the meeting-notes run without qualifying."""
    from bakeoff.reporters.markdown import render_markdown
    from bakeoff.reporters.report import RunReport

    s = load_summary(BENCH / "meeting-notes-qualified-summary.json")
    assert s.quality is not None
    (info,) = s.quality.judges.values()
    assert info.qualification is not None and info.qualification.rubric is not None
    assert info.qualification.rubric.passed == 0 and not info.qualified("rubric")
    assert info.qualification.pairwise is not None and info.qualification.pairwise.position_bias == 1.0
    by = {m.model: m.quality for m in s.models}
    assert all(q is not None and q.mean is None and q.reference and q.reference.n == 9 for q in by.values())
    md = render_markdown(RunReport(s, (), None))
    assert "Judge qualification (gold answers against corrupted copies" in md
    missed = " | ".join(["**no**"] * 7)
    assert f"| rubric | {missed} | 0/7 | spread 0.64 | **no** |" in md
    assert "3.38 (unqualified)" in md and "0.30 / 67%" in md
