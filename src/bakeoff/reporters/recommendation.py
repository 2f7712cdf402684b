"""The plain-text recommendation that ``bakeoff recommend`` prints (renders a Recommendation)."""

from __future__ import annotations

from bakeoff.analysis.recommend import Recommendation


def render_text(r: Recommendation) -> str:
    lines = []
    if r.winner is None:
        lines.append("No recommendation: " + r.confidence)
    else:
        lines.append(f"Recommended: {r.winner}  ({r.confidence})")
        if r.runners_up:
            lines.append("Runners-up: " + ", ".join(r.runners_up))
    lines.append(
        f"Score over {', '.join(r.dimensions) or 'nothing'} with weights "
        + ", ".join(f"{k}={v:g}" for k, v in r.weights.items())
    )
    for c in sorted(r.candidates, key=lambda x: (x.excluded is not None, -x.score)):
        mark = "*" if c.model == r.winner else " "
        front = " [Pareto]" if c.pareto else ""
        if c.excluded:
            lines.append(f" {mark} {c.model}: {c.lost_because}")
        else:
            lines.append(
                f" {mark} {c.model}: score {c.score:.3f} (95% {c.interval[0]:.3f}-{c.interval[1]:.3f}){front}"
                + (f"; {c.lost_because}" if c.lost_because else "")
            )
    lines += [f"note: {n}" for n in r.notes]
    return "\n".join(lines) + "\n"
