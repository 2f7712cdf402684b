"""The fleet file: machine groups (Ray node labels), the models each runs, and the run settings
(whatever ``bench`` takes). JSON, or YAML when PyYAML is installed; every error names the file, the
line (JSON) and the key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator

from bakeoff.config.json_file import _raise_validation, _read_json, locate
from bakeoff.config.settings import (
    BenchSettings,
    ModelSpec,
    PromptCase,
    load_models_file,
    load_prompts,
    session_prompts,
)
from bakeoff.errors import ConfigError
from bakeoff.fleet.model_files import ShipPolicy
from bakeoff.results.schema import _Strict
from bakeoff.workload.meetings import resolve_suite

FLEET_SCHEMA_VERSION = 1


class GroupSpec(_Strict):
    """One kind of machine: the Ray nodes whose labels include every one of ``labels`` and that have
    at least each of ``resources`` (one of the two, or both)."""

    labels: dict[str, str] = Field(default_factory=dict)
    """e.g. ``{"bakeoff-group": "laptop-8gb"}``, as given to ``ray start --labels``."""
    resources: dict[str, float] = Field(default_factory=dict)
    """Custom resources, e.g. ``{"laptop-8gb": 1}`` for nodes started with
    ``ray start --resources '{"laptop-8gb": 1}'`` (or ``{"GPU": 1}``)."""
    models: list[str] = Field(min_length=1)
    max_memory_mb: float | None = Field(default=None, gt=0)
    """The group's memory budget: a model whose peak exceeds it does not fit these machines."""
    nodes: int | None = Field(default=None, ge=1)
    """Run on at most this many of the matching nodes (default: every one)."""
    ship_models: ShipPolicy = "auto"
    """A models-file model's files on these nodes: ``auto`` (the node's own copy when its sha256 is the
    driver's, else one sent before, else shipped), ``always`` (shipped every run) or ``never`` (the
    node's own copy, or the model fails there). See ``fleet/model_files.py``."""

    @model_validator(mode="after")
    def _selects(self) -> GroupSpec:
        if not self.labels and not self.resources:
            raise ValueError("a group needs 'labels' or 'resources' to select its nodes")
        if any(v <= 0 for v in self.resources.values()):
            raise ValueError("each of 'resources' must be above 0")
        return self


class FleetSpec(_Strict):
    schema_version: int = FLEET_SCHEMA_VERSION
    groups: dict[str, GroupSpec] = Field(min_length=1)
    settings: dict[str, Any] = Field(default_factory=dict)
    """Any of ``bench``'s run settings (``rounds``, ``max_tokens``, ``profile``, ``data``, ``slo``...)."""
    prompts: str | None = None
    """A prompts file (relative to the fleet file), or ``suite:NAME`` for a built-in suite; default:
    the built-in session prompts."""
    models_file: str | None = None
    """A models.json (relative to the fleet file) whose aliases the groups may name: a GGUF or a
    converted folder by ``path`` runs from each node's own copy or is shipped there."""

    @field_validator("schema_version")
    @classmethod
    def _known(cls, v: int) -> int:
        if v > FLEET_SCHEMA_VERSION:
            raise ValueError(f"schema version {v}: this bakeoff reads up to {FLEET_SCHEMA_VERSION}")
        return v


def _read_yaml(path: Path) -> tuple[Any, str]:
    try:
        import yaml
    except ImportError:
        raise ConfigError(
            "a YAML fleet file needs PyYAML", source=str(path), hint="pip install pyyaml, or write it as JSON"
        ) from None
    text = path.read_text(encoding="utf-8-sig")
    try:
        return yaml.safe_load(text), text
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise ConfigError(f"invalid YAML: {exc}", source=str(path), line=line) from None


def load_fleet_file(path: str | Path) -> tuple[FleetSpec, BenchSettings, list[PromptCase], str]:
    """The fleet file's spec (``models_file`` made absolute), its run settings (``models`` empty: each
    group names its own), its prompts and where they came from."""
    p = Path(path)
    if p.suffix.lower() in (".yaml", ".yml"):
        if not p.exists():
            raise ConfigError("file not found", source=str(p), hint="check the path you passed")
        data, text = _read_yaml(p)
    else:
        data, text = _read_json(p)
    if not isinstance(data, dict):
        raise ConfigError(
            "expected an object with 'groups' (and 'settings', 'prompts')",
            source=str(p),
            line=1,
            hint='shape: {"groups": {"laptop": {"labels": {"bakeoff-group": "laptop"}, "models": [...]}}}',
        )
    try:
        spec = FleetSpec.model_validate(data)
    except ValidationError as exc:
        _raise_validation(exc, p, text, (), FleetSpec)
    internal = "set by bakeoff bench --load-nodes, not by hand"
    for key, why in (
        ("models", "each group names its own models"),
        ("models_file", "give it at the top level of the fleet file, beside 'groups'"),
        ("shard", internal),
        ("shard_start_ns", internal),
    ):
        if key in spec.settings:
            raise ConfigError(
                f"'{key}' is not a fleet setting: {why}",
                source=str(p), line=locate(text, ("settings", key)), key=f"settings.{key}",
            )  # fmt: skip
    for name in spec.groups:
        if not name.strip() or "/" in name:
            raise ConfigError(
                f"group name {name!r} must be non-empty, without '/'",
                source=str(p), line=locate(text, ("groups", name)), key=f"groups.{name}",
            )  # fmt: skip
    prompts, source = _prompts(spec, p, text)
    if spec.models_file is not None:
        file = Path(spec.models_file).expanduser()
        file = file if file.is_absolute() else p.parent / file
        if not file.is_file():
            raise ConfigError(
                f"models file {file} not found",
                source=str(p), line=locate(text, ("models_file",)), key="models_file",
                hint="give a models.json path, relative to the fleet file",
            )  # fmt: skip
        load_models_file(file)  # its errors name that file, line and key
        spec = spec.model_copy(update={"models_file": str(file.resolve())})
    try:
        settings = BenchSettings.model_validate({**spec.settings, "models": [], "prompts_source": source})
    except ValidationError as exc:
        _raise_validation(exc, p, text, ("settings",), BenchSettings)
    return spec, settings, prompts, source


def _prompts(spec: FleetSpec, path: Path, text: str) -> tuple[list[PromptCase], str]:
    """The fleet's prompts; an error in them names the fleet file's ``prompts`` key and the cause."""
    if spec.prompts is None:
        return session_prompts(), "built-in session prompts"
    try:
        if spec.prompts.startswith("suite:"):
            return resolve_suite(spec.prompts.removeprefix("suite:"))
        file = Path(spec.prompts).expanduser()
        file = file if file.is_absolute() else path.parent / file
        return load_prompts(file), str(file)
    except ConfigError as exc:
        line = locate(text, ("prompts",))
        raise ConfigError(exc.message, source=str(path), line=line, key="prompts", hint=exc.hint) from None


def fleet_models(spec: FleetSpec) -> dict[str, ModelSpec]:
    """The fleet's models file (``{}`` without one), paths anchored to its folder, except a path that
    starts with ``~``: each node reads it as its own home (the driver expands it to hash its copy)."""
    return load_models_file(spec.models_file, home_per_machine=True) if spec.models_file else {}
