"""bakeoff: a bake-off between language models on your own hardware.

The library's front door is ``bakeoff.api.benchmark(BenchSettings(models=[...]))``."""

__version__ = "0.1.0"
