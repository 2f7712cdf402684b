"""``--vary``: every combination of engine settings, as llama-bench takes them.

``n_gpu_layers=0,99;n_threads=1,2,4`` is the cartesian product of the lists (6 combinations, the last
key changing fastest); a list item may be a range ``a..b+step`` (``1..8+1``: 1 to 8) or ``a..b*factor``
(``1..16*2``: 1, 2, 4, 8, 16). Values are read as JSON where they can be (``99``, ``0.5``, ``true``),
else kept as text (``q8_0``). Each combination is labelled with short names (``ngl=99 t=2``)."""

from __future__ import annotations

import itertools
import json
import re
from typing import Any

from bakeoff.errors import UsageError

MAX_COMBINATIONS = 256
SHORT = {
    "n_gpu_layers": "ngl", "n_threads": "t", "n_threads_batch": "tb", "n_batch": "b", "n_ubatch": "ub",
    "flash_attn": "fa", "type_k": "ctk", "type_v": "ctv", "use_mmap": "mmap", "n_ctx": "c",
    "main_gpu": "mg", "use_mlock": "mlock",
}  # fmt: skip
_RANGE = re.compile(r"(-?\d+)\.\.(-?\d+)(?:([+*])(\d+))?")
_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_.-]*")


def _value(text: str) -> Any:
    try:
        return json.loads(text)
    except ValueError:
        return text


def _values(key: str, text: str) -> list[Any]:
    out: list[Any] = []
    for item in (p.strip() for p in text.split(",")):
        if not item:
            raise UsageError(f"--vary {key}: an empty value in {text!r}", hint=f"e.g. {key}=1,2,4")
        m = _RANGE.fullmatch(item)
        if not m:
            out.append(_value(item))
            continue
        lo, hi, op, by = int(m.group(1)), int(m.group(2)), m.group(3) or "+", int(m.group(4) or 1)
        if hi < lo or by < 1 or (op == "*" and (by < 2 or lo < 1)):
            raise UsageError(
                f"--vary {key}: cannot count {item!r}",
                hint="a range is a..b+step (1..8+1) or a..b*factor (1..16*2)",
            )
        v = lo
        while v <= hi:
            out.append(v)
            if len(out) > MAX_COMBINATIONS:  # 1..1000000+1 stops here, not after a million values
                raise UsageError(f"--vary {key}: {item!r} gives more than {MAX_COMBINATIONS} values")
            v = v + by if op == "+" else v * by
    if len(set(map(json.dumps, out))) != len(out):
        raise UsageError(f"--vary {key}: a value is given twice in {text!r}")
    return out


def parse_vary(text: str) -> list[dict[str, Any]]:
    """Every combination (a dict of option -> value), in order; a usage error naming the part that
    cannot be read."""
    axes: dict[str, list[Any]] = {}
    for part in (p.strip() for p in text.split(";")):
        if not part:
            continue
        key, eq, values = part.partition("=")
        key = key.strip()
        if not eq or not _KEY.fullmatch(key) or not values.strip():
            raise UsageError(
                f"cannot read --vary part {part!r}", hint='write KEY=V1,V2;KEY2=..., e.g. "n_threads=1,2,4"'
            )
        if key in axes:
            raise UsageError(f"--vary names {key!r} twice")
        axes[key] = _values(key, values)
    if not axes:
        raise UsageError("--vary names no setting", hint='e.g. --vary "n_threads=1,2;n_gpu_layers=0,99"')
    combos = [dict(zip(axes, vs, strict=True)) for vs in itertools.product(*axes.values())]
    if len(combos) > MAX_COMBINATIONS:
        raise UsageError(f"--vary makes {len(combos)} combinations; at most {MAX_COMBINATIONS}")
    return combos


def label(combo: dict[str, Any]) -> str:
    """``{"n_gpu_layers": 99, "n_threads": 2}`` -> ``ngl=99 t=2``."""
    return " ".join(
        f"{SHORT.get(k, k)}={json.dumps(v) if not isinstance(v, str) else v}" for k, v in combo.items()
    )
