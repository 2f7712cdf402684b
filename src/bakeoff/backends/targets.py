"""Targets: each model name the user gave, resolved to a backend and a spec (or to why it cannot run).

Lookup order: ``BACKEND:ID`` (the backend resolves its own references); an alias of the user's
models file or of bakeoff's registry; with an endpoint, a model id there; a built-in embedded alias.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from bakeoff.backends.plugins import backend_names, backend_trait, load_backend_class
from bakeoff.config.settings import DEFAULT_ENDPOINT, ModelSpec
from bakeoff.config.vary import label
from bakeoff.errors import BakeoffError, ConfigError
from bakeoff.models import embedded
from bakeoff.models.registry import registered_specs


@dataclass(frozen=True)
class ModelTarget:
    """A model as the user named it, resolved to a backend and spec (or to the reason it cannot run)."""

    name: str
    backend: str
    spec: ModelSpec | None
    error: str | None = None
    structured_mode: str | None = None  # ``--vary structured=...``: this row's mode, over the run's


def catalog_facts(target: ModelTarget) -> tuple[str | None, list[str]]:
    """(license, capability tags) of a target: its models.json entry, else the embedded registry. The one
    source for reports, ``models list`` and the server's ``/v1/models``."""
    spec = target.spec
    reg = embedded.EMBEDDED.get(spec.embedded or "") if spec else None
    license_ = (spec.license if spec else None) or (reg.license if reg else None)
    caps = (spec.capabilities if spec else None) or (list(reg.capabilities) if reg else [])
    return license_, list(caps)


def infer_backend(alias: str, spec: ModelSpec) -> str:
    if spec.backend:
        return spec.backend
    if spec.adapter:
        return "adapter"
    if spec.path or spec.embedded or (alias in embedded.EMBEDDED and not spec.model and not spec.base_url):
        return "llamacpp"
    return "openai"


def resolve_targets(
    names: Sequence[str], user_models: dict[str, ModelSpec], endpoint: str | None, *, strict: bool = True
) -> list[ModelTarget]:
    """Map each name the user gave to a backend and spec. A name or entry that cannot mean anything
    raises ``ConfigError`` (``check_targets``); with ``strict=False`` (``doctor``, which reports every
    problem as a failed check) it becomes a failed target with that reason instead.

    Order of lookup: ``BACKEND:ID``; an alias of the user's models file; with an endpoint, a model id
    there; a built-in embedded alias. (With an endpoint, built-in aliases mean the endpoint's model of
    that name; write ``llamacpp:ALIAS`` to run the embedded model in-process beside it.)
    """
    targets: list[ModelTarget] = []
    backends = set(backend_names())
    user_models = {**registered_specs(), **user_models}  # imported models resolve like models.json
    for name in names:
        prefix, sep, rest = name.partition(":")
        if sep and prefix in backends and rest:
            targets.append(_prefixed(name, prefix, rest, endpoint))
        elif name in user_models:
            spec = user_models[name]
            kind = infer_backend(name, spec)
            if kind == "openai":
                spec = spec.model_copy(update={"base_url": spec.base_url or endpoint or DEFAULT_ENDPOINT})
            elif kind == "llamacpp" and not spec.path and not spec.embedded:
                spec = spec.model_copy(update={"embedded": name})
            targets.append(ModelTarget(name, kind, spec))
        elif endpoint:
            targets.append(
                ModelTarget(name, "openai", ModelSpec(backend="openai", model=name, base_url=endpoint))
            )
        elif name in embedded.EMBEDDED:
            targets.append(ModelTarget(name, "llamacpp", ModelSpec(backend="llamacpp", embedded=name)))
        else:
            targets.append(ModelTarget(name, "unknown", None, "unknown model"))
    if strict:
        check_targets(targets, user_models)
        return targets
    problems = {name: msg for name, _, _, _, msg in _problems(targets, user_models)}
    return [
        ModelTarget(t.name, t.backend, None, problems[t.name]) if t.name in problems else t for t in targets
    ]


def check_targets(targets: Sequence[ModelTarget], user_models: dict[str, ModelSpec]) -> None:
    """Refuse, before any model loads, every name or models.json entry that cannot mean anything: an
    unknown alias, a misspelt ``BACKEND:`` prefix or ``backend``, engine options the backend does not
    know. One ``ConfigError`` (exit 2) lists them all with the known values. (A model that is named
    correctly but fails to load, or an endpoint that does not answer, fails that model at run time.)"""
    problems = _problems(targets, user_models)
    names = [t.name for t in targets]
    for name in dict.fromkeys(n for n in names if names.count(n) > 1):
        problems.insert(
            0,
            (
                name,
                None,
                None,
                None,
                f"model {name!r} is named {names.count(name)} times; each model runs once",
            ),
        )
    if not problems:
        return
    _, file, line, key, first = problems[0]
    rest = "".join(f"\n  also: {f + ': ' if f else ''}{m}" for _, f, _, _, m in problems[1:])
    raise ConfigError(
        first + rest,
        source=file or "--models",
        line=line,
        key=key,
        hint="fix it and run again (nothing was run)",
    )


_Problem = tuple[str, str | None, int | None, str | None, str]  # (name, file, line, key, message)


def _problems(targets: Sequence[ModelTarget], user_models: dict[str, ModelSpec]) -> list[_Problem]:
    """(target name, file, line, key, message) of every target that cannot mean anything (file, line
    and key only for a models.json entry)."""
    backends = backend_names()
    problems: list[_Problem] = []
    for t in targets:
        if t.backend == "unknown":
            prefix, sep, rest = t.name.partition(":")
            near = difflib.get_close_matches(prefix, backends, n=1, cutoff=0.75) if sep else []
            if sep and prefix in backends and not rest:
                msg = f"{t.name!r} names no model after '{prefix}:'"
            elif near:
                msg = (
                    f"unknown backend {prefix!r} in {t.name!r} (did you mean {near[0]!r}?); "
                    f"known backends: {', '.join(backends)}"
                )
            else:
                known = sorted({*user_models, *embedded.EMBEDDED})
                msg = (
                    f"unknown model {t.name!r}: not an alias ({', '.join(known)}); pass --endpoint URL to "
                    "use a model id at a server, or llamacpp:/path/to/file.gguf for a local file"
                )
            problems.append((t.name, None, None, None, msg))
            continue
        if t.spec is None:
            continue
        file, line = t.spec.where()
        if t.backend not in backends:
            problems.append(
                (
                    t.name,
                    file,
                    line,
                    f"{t.name}.backend",
                    f"unknown backend {t.backend!r}; known backends: {', '.join(backends)}",
                )
            )
            continue
        reads = backend_trait(t.backend, "spec_keys", None)
        if reads is not None and file is not None:  # an entry of a models file: every key it set is read
            for key in sorted(t.spec.model_fields_set - COMMON_SPEC_KEYS - set(reads)):
                problems.append(
                    (t.name, file, line, f"{t.name}.{key}",
                     f"a {t.backend} entry does not read {key!r}; it reads {', '.join(sorted(reads))}")
                )  # fmt: skip
        check = backend_trait(t.backend, "option_problems", None)
        for msg in check(t.spec.options) if check else []:
            problems.append((t.name, file, line, f"{t.name}.options", msg))
    return problems


COMMON_SPEC_KEYS = frozenset({"backend", "license", "capabilities", "size_mb", "description"})
"""models.json keys every backend takes (facts about the model, not how to run it)."""


def _prefixed(name: str, backend: str, rest: str, endpoint: str | None) -> ModelTarget:
    """``BACKEND:REST``: the backend's own ``spec_for(rest, endpoint)`` resolves it (a missing file, an
    unknown id, an engine that is not installed make the target fail with that reason)."""
    try:
        cls = load_backend_class(backend)
        resolve = getattr(cls, "spec_for", None)
        spec = resolve(rest, endpoint) if resolve else ModelSpec(backend=backend, model=rest)
    except BakeoffError as exc:
        return ModelTarget(name, backend, None, f"{exc.message} ({exc.hint})" if exc.hint else exc.message)
    except Exception as exc:  # a plugin's own failure marks its target, never the run
        return ModelTarget(
            name, backend, None, f"backend {backend!r} failed on {rest!r}: {type(exc).__name__}: {exc}"
        )
    return ModelTarget(name, backend, spec)


def endpoint_models(endpoint: str, timeout: float = 10.0) -> list[str]:
    """Model ids listed at ``endpoint/models`` (the OpenAI-compatible protocol's listing)."""
    from bakeoff.backends.openai import list_endpoint_models

    return list_endpoint_models(endpoint, timeout)


def prepare_embedded(
    targets: list[ModelTarget], progress: Callable[[str, int, int], None] | None = None
) -> None:
    """Assemble and verify embedded models before timing starts; a failure marks only that target."""
    for i, t in enumerate(targets):
        alias = t.spec.embedded if t.spec else None
        if not alias or t.error:
            continue
        model = embedded.EMBEDDED.get(alias)
        if model is None:
            continue
        if embedded.is_ready(model):
            continue

        def report(done: int, total: int, alias: str = alias) -> None:
            if progress:
                progress(alias, done, total)

        try:
            embedded.ensure(model, report)
        except BakeoffError as exc:
            reason = f"{exc.message} ({exc.hint})" if exc.hint else exc.message
            targets[i] = ModelTarget(t.name, t.backend, t.spec, reason)


HARNESS_KEYS = frozenset({"structured"})
"""``--vary`` keys that are bakeoff's, not the engine's: ``structured=free,constrained`` runs each model
with and without constrained decoding (``--structured`` says the schema)."""


def vary_targets(targets: Sequence[ModelTarget], combos: Sequence[dict[str, Any]]) -> list[ModelTarget]:
    """Every target under every combination of ``--vary`` (``config.vary.parse_vary``), named
    ``model [ngl=99 t=2]``, its options overridden by the combination's. A combination the backend's
    option check refuses is a failed target with the reason (that row only); an already failed target
    stays as it is, once."""
    out: list[ModelTarget] = []
    for t in targets:
        if t.error or t.spec is None:
            out.append(t)
            continue
        check = backend_trait(t.backend, "option_problems", None)
        for combo in combos:
            name = f"{t.name} [{label(combo)}]"
            engine = {k: v for k, v in combo.items() if k not in HARNESS_KEYS}
            spec = t.spec.model_copy(update={"options": {**t.spec.options, **engine}})
            problems = check(spec.options) if check else []
            mode = combo.get("structured")
            out.append(
                ModelTarget(name, t.backend, None, problems[0])
                if problems
                else ModelTarget(name, t.backend, spec, None, None if mode is None else str(mode))
            )
    return out
