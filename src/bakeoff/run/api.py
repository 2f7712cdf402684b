"""The library's front door: one call from settings to a saved, summarised bake-off.

    from bakeoff.run.api import benchmark
    from bakeoff.config.settings import BenchSettings

    summary = benchmark(BenchSettings(models=["smollm2-135m", "qwen2.5-coder-0.5b"], rounds=2))
    for row in summary.models:
        print(row.model, row.status, row.ttft_s.p50, row.decode_tokens_per_s.p50)

Everything ``bakeoff bench`` writes lands in ``out_dir`` (default ``bakeoff-runs/<timestamp>``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from bakeoff.backends.targets import prepare_embedded, resolve_targets
from bakeoff.config.settings import BenchSettings, PromptCase, load_models_file, session_prompts
from bakeoff.results.folder import claim, default_run_dir
from bakeoff.results.schema import Summary
from bakeoff.run.bench import run_bench


def benchmark(
    settings: BenchSettings,
    prompts: Sequence[PromptCase] | None = None,
    out_dir: Path | str | None = None,
    *,
    overwrite: bool = False,
) -> Summary:
    """Resolve ``settings.models`` (with ``settings.models_file`` and ``settings.endpoint``), assemble
    embedded models, run every model over ``prompts`` (default: the session's four prompts) and write
    the run to ``out_dir`` (a folder that already holds a run is refused unless ``overwrite``).
    Failed models are rows with their reason; only configuration errors raise."""
    user_models = load_models_file(settings.models_file) if settings.models_file else {}
    targets = resolve_targets(settings.models, user_models, settings.endpoint)
    out = Path(out_dir) if out_dir else default_run_dir()
    claim(out, overwrite=overwrite)  # a used or unusable folder is refused before any model is assembled
    prepare_embedded(targets)
    if prompts is None:
        return run_bench(settings, session_prompts(), targets, out, overwrite=overwrite)
    if settings.prompts_source == BenchSettings.model_fields["prompts_source"].default:
        settings = settings.model_copy(update={"prompts_source": "prompts passed to benchmark()"})
    return run_bench(settings, list(prompts), targets, out, overwrite=overwrite)
