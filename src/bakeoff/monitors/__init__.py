"""Samplers of the machine: environment snapshot (memory, energy and disk samplers come later)."""
