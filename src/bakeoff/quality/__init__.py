"""Quality: deterministic checks, a judge model, pairwise verdicts, human annotation, agreement."""
