"""Mutation score per module, from mutmut's results in ``mutants/`` (run ``make mutation`` first).

    python bench/mutation_score.py [--min 90] [--equivalent bench/mutation_equivalent.txt]

A mutant is *killed* when a test failed (or the type check caught it), *survived* when every test
passed. Survivors listed in the equivalent file (``mutant_name  reason``, one per line) are mutants
that cannot change any result (e.g. a default argument no caller relies on, an unreachable guard);
they are left out of the score, and each must carry its reason. The score is
killed / (killed + survived + no tests + timeout - equivalent). Exit 1 if any module is below --min.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path

KILLED = {1, 3, 37}
SURVIVED = {0}
NO_TESTS = {5, 33}
TIMEOUT = {36, 24, -24, 152, 255}


def load_equivalent(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for n, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, reason = line.partition(" ")
        if not reason.strip():
            raise SystemExit(f"{path}:{n}: mutant {name} is listed without a reason")
        out[name] = reason.strip()
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mutants", type=Path, default=Path("mutants"))
    ap.add_argument("--equivalent", type=Path, default=Path(__file__).with_name("mutation_equivalent.txt"))
    ap.add_argument("--min", type=float, default=90.0, help="lowest acceptable score per module (percent)")
    ap.add_argument("--survivors", action="store_true", help="list every survivor not marked equivalent")
    args = ap.parse_args()
    equivalent = load_equivalent(args.equivalent)
    metas = sorted(args.mutants.glob("src/**/*.py.meta"))
    if not metas:
        print("no mutmut results under mutants/: run `make mutation` first", file=sys.stderr)
        return 2
    rows = []
    survivors: list[str] = []
    seen_equivalent: set[str] = set()
    failed = False
    for meta in metas:
        module = str(meta.relative_to(args.mutants)).removesuffix(".meta")
        codes = json.loads(meta.read_text()).get("exit_code_by_key", {})
        if not codes:
            continue
        c: Counter[str] = Counter()
        for name, code in codes.items():
            if code in KILLED:
                c["killed"] += 1
            elif code in SURVIVED and name in equivalent:
                c["equivalent"] += 1
                seen_equivalent.add(name)
            elif code in SURVIVED:
                c["survived"] += 1
                survivors.append(name)
            elif code in NO_TESTS:
                c["no tests"] += 1
                survivors.append(name)
            elif code in TIMEOUT:
                c["timeout"] += 1
            else:
                c["not checked"] += 1
        counted = c["killed"] + c["survived"] + c["no tests"] + c["timeout"]
        score = 100.0 * (c["killed"] + c["timeout"]) / counted if counted else 100.0
        failed |= score < args.min or c["not checked"] > 0
        rows.append((module, len(codes), c, score))
    print("| module | mutants | killed | timeout | survived | no tests | equivalent | score |")
    print("|---|---|---|---|---|---|---|---|")
    for module, n, c, score in rows:
        print(
            f"| `{module}` | {n} | {c['killed']} | {c['timeout']} | {c['survived']} | {c['no tests']} | "
            f"{c['equivalent']} | {score:.1f}% |"
        )
    total = Counter[str]()
    for *_, c, _ in rows:
        total.update(c)
    counted = total["killed"] + total["survived"] + total["no tests"] + total["timeout"]
    print(
        f"| all | {sum(n for _, n, _, _ in rows)} | {total['killed']} | {total['timeout']} | "
        f"{total['survived']} | {total['no tests']} | {total['equivalent']} | "
        f"{100.0 * (total['killed'] + total['timeout']) / max(counted, 1):.1f}% |"
    )
    stale = sorted(set(equivalent) - seen_equivalent)
    if stale:
        print(f"\nlisted as equivalent but not surviving (look again, then remove them): {', '.join(stale)}")
        failed = True
    if args.survivors and survivors:
        print("\nsurvivors (see them with `mutmut show NAME`):")
        print("\n".join(f"  {s}" for s in survivors))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
