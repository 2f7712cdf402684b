"""bakeoff's registry of imported and downloaded models (``~/.cache/bakeoff/registry.json``): what
runs each one and where its files are. Every command resolves these aliases like models.json ones."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from bakeoff.config.settings import ModelSpec
from bakeoff.errors import ModelError
from bakeoff.models import embedded


def home() -> Path:
    """bakeoff's cache root (the models cache's parent): ``$BAKEOFF_CACHE/..`` or ``~/.cache/bakeoff``."""
    return embedded.cache_dir().parent


def registry_path() -> Path:
    return home() / "registry.json"


@dataclass
class Registered:
    """An imported or downloaded model: what runs it and where its files are."""

    backend: str
    path: str
    format: str  # gguf | onnx-genai
    source: str
    added_at: str
    owned: bool = False  # True when bakeoff created the files (safe to delete on remove)
    model: str | None = None  # the engine's id (Foundry local catalog id)
    license: str | None = None
    capabilities: list[str] = field(default_factory=list)

    def spec(self, alias: str) -> ModelSpec:
        return ModelSpec(
            backend=self.backend,
            path=self.path,
            model=self.model or (alias if self.backend == "foundry" else None),
            license=self.license,
            capabilities=self.capabilities,
        )


def load_registry() -> dict[str, Registered]:
    path = registry_path()
    if not path.exists():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return {k: Registered(**v) for k, v in data.items()}
    except (ValueError, TypeError) as exc:
        raise ModelError(
            f"{path} is damaged: {exc}", hint="fix or delete it; imported models must then be imported again"
        ) from None


def save_registry(reg: dict[str, Registered]) -> None:
    path = registry_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(
        json.dumps({k: asdict(v) for k, v in sorted(reg.items())}, indent=2) + "\n", encoding="utf-8"
    )
    os.replace(tmp, path)


def register(alias: str, item: Registered) -> None:
    reg = load_registry()
    reg[alias] = item
    save_registry(reg)


def registered_specs() -> dict[str, ModelSpec]:
    """Imported models as models.json entries, so every command resolves their aliases."""
    return {alias: r.spec(alias) for alias, r in load_registry().items()}
