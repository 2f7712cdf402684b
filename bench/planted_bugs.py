"""Plant each one-line bug of issue 17's table in a copy of the source and list the tests that fail.

    .venv/bin/python bench/planted_bugs.py

Each bug is a literal replacement in one module; the fast known-answer suite runs against the
copy (``PYTHONPATH`` puts it ahead of the installed package). A bug that no test catches is
printed as MISSED and the script exits 1.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FAST_TESTS = [
    "tests/test_known_answers.py",
    "tests/test_metrics.py",
    "tests/test_compare_verdicts.py",
    "tests/test_recommend_scoring.py",
    "tests/test_quality_known.py",
    "tests/test_properties.py",
]
BUGS = [
    (
        "TPOT denominator n_out - 1 -> n_out",
        "metrics/request.py",
        "tpot = (latency - ttft) / (n_out - 1)",
        "tpot = (latency - ttft) / n_out",
    ),
    (
        "open-loop latency from the send, not the schedule (coordinated omission)",
        "metrics/request.py",
        "latency + wait, None if ttft is None else ttft + wait",
        "latency, None if ttft is None else ttft",
    ),
    (
        "p50 and p90 swapped in the statistics",
        "metrics/stats.py",
        "p50=float(p[0]),\n        p90=float(p[1]),",
        "p50=float(p[1]),\n        p90=float(p[0]),",
    ),
    ("compare's bootstrap interval 95% -> 50%", "metrics/stats.py", "[2.5, 97.5]", "[25, 75]"),
    (
        "compare's no-records path calls every change real",
        "compare.py",
        "real = abs(change) > noise",
        "real = True",
    ),
    (
        'compare\'s verdict always "worse"',
        "compare.py",
        'verdict = "unchanged" if not real else ("better" if better else "worse")',
        'verdict = "worse"',
    ),
    (
        "self-judging detected by alias only",
        "quality/identity.py",
        "if m.model == target.name or (mine is not None and identity(m.info) == mine):",
        "if m.model == target.name:",
    ),
]


def main() -> int:
    missed = 0
    for title, module, old, new in BUGS:
        with tempfile.TemporaryDirectory() as tmp:
            src = Path(tmp) / "src"
            shutil.copytree(ROOT / "src", src)
            path = src / "bakeoff" / module
            text = path.read_text()
            if text.count(old) != 1:
                print(f"CANNOT PLANT  {title}: {old!r} not found once in {module}")
                missed += 1
                continue
            path.write_text(text.replace(old, new))
            env = {**os.environ, "PYTHONPATH": str(src)}
            which = subprocess.run(
                [sys.executable, "-c", "import bakeoff; print(bakeoff.__file__)"],
                capture_output=True, text=True, env=env, check=True,
            ).stdout.strip()  # fmt: skip
            assert which.startswith(str(src)), f"the copy is not the one imported: {which}"
            r = subprocess.run(
                [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rf", *FAST_TESTS],
                capture_output=True, text=True, env=env, cwd=ROOT,
            )  # fmt: skip
            lines = r.stdout.splitlines()
            failed = [ln.split(" ", 1)[1].split(" - ")[0] for ln in lines if ln.startswith("FAILED")]
            if failed:
                print(f"caught  {title}: {len(failed)} tests fail, e.g.")
                for f in failed[:3]:
                    print(f"          {f}")
            else:
                print(f"MISSED  {title}")
                missed += 1
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
