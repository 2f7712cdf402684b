"""Figures worked out from records and saved summaries: per-model summaries, capacity, SLO and
goodput, client and resource figures, run comparison, the recommendation and routing."""
