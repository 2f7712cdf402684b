"""Configuration: models.json, prompt sets and run settings, validated with errors that name
the file, line and key. Environment variables (BENCH_*, FOUNDRY_LOCAL_ENDPOINT) fill what flags
leave unset."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from bakeoff.config.json_file import _raise_validation, _read_json, locate
from bakeoff.config.vary import parse_vary
from bakeoff.errors import ConfigError, UsageError

DEFAULT_ENDPOINT = "http://localhost:5273/v1"
"""Foundry Local's default service address, as the session uses it."""

SESSION_PROMPTS = [
    "Explain the principle of retrieval augmented generation in 2 sentences.",
    "List 3 privacy benefits of local inference.",
    "Summarize why model size impacts latency on consumer hardware.",
    "Provide two scenarios where an SLM is preferable to an LLM.",
]


class ModelSpec(BaseModel):
    """One entry of models.json: the session's ``{capabilities, size_mb}`` plus how to run it.

    ``backend`` may be left out: a ``path`` or an embedded alias means ``llamacpp``, anything else
    is a model id at an OpenAI-compatible endpoint (``openai``).
    """

    model_config = ConfigDict(extra="forbid")

    backend: str | None = None
    path: str | None = Field(default=None, description="GGUF file for llamacpp")
    embedded: str | None = Field(default=None, description="alias of a PyPI-shipped model")
    model: str | None = Field(default=None, description="model id at the endpoint")
    base_url: str | None = None
    api_key: str | None = None
    api_key_env: str | None = None
    license: str | None = None
    capabilities: list[str] = Field(default_factory=list)
    size_mb: float | None = Field(default=None, ge=0)
    chat_format: str | None = None
    options: dict[str, Any] = Field(default_factory=dict, description="engine options, e.g. n_ctx, n_threads")
    reuse_prompt_cache: bool = False
    adapter: str | None = Field(
        default=None, description="custom adapter: NAME, module:Class or file.py:Class"
    )
    weights: str | None = Field(default=None, description="weights path handed to the adapter's load()")
    description: str | None = None
    # (file, line) of the models.json entry this came from, so a later check can point at it
    _where: tuple[str, int | None] | None = PrivateAttr(default=None)

    def where(self) -> tuple[str | None, int | None]:
        """The models.json file and line this entry was read from ((None, None) when made in code)."""
        return self._where or (None, None)

    @field_validator("capabilities")
    @classmethod
    def _tags(cls, v: list[str]) -> list[str]:
        for tag in v:
            if not re.fullmatch(r"[a-z0-9][a-z0-9_.-]*", tag):
                raise ValueError(f"capability tag {tag!r} must be lowercase letters, digits, '-', '_' or '.'")
        return v


class Aspect(BaseModel):
    """Something a good answer covers (a decision, an owner, a date), judged per output."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, pattern=r"^[A-Za-z0-9_.-]+$")
    text: str = Field(min_length=1)
    weight: float = Field(default=1.0, gt=0)


CheckType = Literal[
    "contains",
    "icontains",
    "not_contains",
    "regex",
    "max_words",
    "min_words",
    "is_json",
    "contains_json",
    "json_schema",
    "python",
]


class CheckSpec(BaseModel):
    """A deterministic assertion on an output.

    ``contains``/``icontains``/``not_contains`` take a string or a list (every item must / must not
    appear); ``regex`` a pattern searched anywhere (``flags`` may hold ``i``, ``m``, ``s``);
    ``max_words``/``min_words`` a number; ``is_json`` (the whole answer, or one fenced block, is JSON)
    and ``contains_json`` (a JSON object or array anywhere in it) no value; ``json_schema`` a JSON
    Schema object, or the name of a shipped schema (``meeting-notes``) or a schema file: the answer
    must be JSON valid against it; ``python`` a ``module:function`` or ``file.py:function`` called as
    ``function(output, case)`` returning a bool or ``(bool, reason)``.
    """

    model_config = ConfigDict(extra="forbid")

    type: CheckType
    value: str | int | list[str] | dict[str, Any] | None = None
    flags: str = ""
    id: str | None = None

    @model_validator(mode="after")
    def _value_fits(self) -> CheckSpec:
        t, v = self.type, self.value
        if t in ("contains", "icontains", "not_contains"):
            ok = (isinstance(v, str) and v != "") or (isinstance(v, list) and v and all(v))
            if not ok:
                raise ValueError(f"check {t!r} needs a non-empty string or list of strings as value")
        elif t in ("regex", "python"):
            if not isinstance(v, str) or not v:
                raise ValueError(f"check {t!r} needs a string value")
            if t == "regex":
                try:
                    re.compile(v)
                except re.error as exc:
                    raise ValueError(f"invalid regex {v!r}: {exc}") from None
            if t == "python" and ":" not in v:
                raise ValueError("check 'python' value must be module:function or file.py:function")
        elif t in ("max_words", "min_words") and (not isinstance(v, int) or isinstance(v, bool) or v < 0):
            raise ValueError(f"check {t!r} needs a non-negative integer value")
        elif t == "json_schema" and not (isinstance(v, dict) or (isinstance(v, str) and v)):
            raise ValueError("check 'json_schema' needs a schema object, or a shipped schema's name or file")
        elif t != "json_schema" and isinstance(v, dict):
            raise ValueError(f"check {t!r} does not take an object as value")
        if set(self.flags) - set("ims"):
            raise ValueError("regex flags may only be i, m and s")
        return self

    @property
    def label(self) -> str:
        """Stable name for reports: the given id, else ``type:value``."""
        if self.id:
            return self.id
        if self.value is None:
            return self.type
        if isinstance(self.value, dict):
            return f"{self.type}:{self.value.get('title') or 'inline schema'}"
        v = self.value if not isinstance(self.value, list) else ", ".join(self.value)
        return f"{self.type}:{str(v)[:40]}"


class FactSpec(BaseModel):
    """A fact a good summary of the case's source keeps (``quality.facts`` scores notes against it):
    recalled when the notes contain ``key`` (case and spacing aside; digits without their separators);
    an ``action`` is also read for its ``owner`` and ``due`` date in the same line. ``position`` and
    ``at`` (the share of the source before it) say where in the source it is."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    kind: Literal["decision", "action", "number", "question"]
    key: str = Field(min_length=1)
    text: str = ""
    owner: str | None = None
    due: str | None = None
    position: Literal["start", "middle", "end"] | None = None
    at: float | None = Field(default=None, ge=0, le=1)


class PromptCase(BaseModel):
    """One prompt of a prompt set, with what a good answer covers and how to check it.

    ``source`` is material the prompt works on (a meeting transcript): inline text, or
    ``{"file": "relative/path.txt"}`` resolved against the prompt file when loaded. It is put in the
    prompt where ``{source}`` appears, else after the prompt on its own. ``reference`` is a gold answer
    (inline or ``{"file": ...}`` the same way): shown to a judge, and the basis of the reference-based
    figures (ROUGE-L, key-term recall) and of judge qualification.
    """

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1)
    prompt: str = Field(min_length=1)
    system: str | None = None
    max_tokens: int | None = Field(default=None, ge=1)
    aspects: list[Aspect] = Field(default_factory=list)
    reference: str | None = None
    source: str | None = None
    checks: list[CheckSpec] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    facts: list[FactSpec] = Field(default_factory=list)

    @field_validator("prompt")
    @classmethod
    def _has_text(cls, v: str) -> str:
        if not v.strip():
            raise ValueError("the prompt is only whitespace: a model would be asked nothing")
        return v

    @field_validator("aspects")
    @classmethod
    def _unique_aspects(cls, v: list[Aspect]) -> list[Aspect]:
        ids = [a.id for a in v]
        dup = {i for i in ids if ids.count(i) > 1}
        if dup:
            raise ValueError(f"duplicate aspect id {sorted(dup)[0]!r}")
        return v

    def user_text(self) -> str:
        """The user message: the prompt with its source material."""
        if not self.source:
            return self.prompt
        if "{source}" in self.prompt:
            return self.prompt.replace("{source}", self.source)
        return f"{self.prompt}\n\n{self.source}"

    def messages(self) -> tuple[dict[str, str], ...]:
        msgs: list[dict[str, str]] = []
        if self.system:
            msgs.append({"role": "system", "content": self.system})
        msgs.append({"role": "user", "content": self.user_text()})
        return tuple(msgs)


class BenchSettings(BaseModel):
    """Everything that shapes a run; saved in summary.json as ``run.settings``. Every number is finite
    (``--rate inf`` or ``--temperature nan`` is an error naming the flag, not a traceback)."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    models: list[str]
    rounds: int = Field(default=3, ge=1)
    warmup: int = Field(default=1, ge=0)
    max_tokens: int = Field(default=128, ge=1)
    temperature: float = Field(default=0.0, ge=0.0, le=2.0)
    seed: int | None = 0
    vary: str | None = Field(
        default=None, description='every model under every combination: "n_threads=1,2;n_gpu_layers=0,99"'
    )
    structured: str | None = Field(
        default=None, description="a shipped JSON schema's name (meeting-notes) or a schema file"
    )
    structured_mode: Literal["free", "constrained"] = Field(
        default="free",
        description="free: the schema asked for in the prompt; constrained: decoding made to follow it",
    )
    reasoning_effort: Literal["low", "medium", "high"] | None = Field(
        default=None,
        description="sent as reasoning_effort to OpenAI-compatible endpoints (reasoning models that take it)",
    )
    stream: bool = True
    concurrency: int = Field(default=1, ge=1, le=1024)
    rate: float | None = Field(default=None, gt=0, description="open loop: requests per second")
    arrival: Literal["constant", "poisson"] = "constant"
    slo: str | None = Field(default=None, description='e.g. "ttft_p95<=2s,latency_p95<=10s" (slo.py)')
    profile: str | None = Field(
        default=None, description="sweep | rates=1,2,4 | concurrency=1,4 (load/profile.py)"
    )
    stage_seconds: float | None = Field(
        default=None, gt=0, description="each stage sends for at most this long"
    )
    stage_requests: int | None = Field(default=None, ge=1, description="each stage sends at most this many")
    max_seconds: float | None = Field(default=None, gt=0, description="the whole run's time budget")
    duration: float | None = Field(
        default=None, gt=0, description="soak: each model's measured phase sends for this long (seconds)"
    )
    max_requests: int | None = Field(
        default=None, ge=1, description="soak: each model's measured phase sends at most this many"
    )
    summary_every: float = Field(
        default=300.0, gt=0, description="seconds between rewrites of summary.json and the reports mid-run"
    )
    data: str | None = Field(default=None, description="prompt_tokens=256,output_tokens=64 (synthetic.py)")
    tokenizer: str | None = Field(
        default=None,
        description="a GGUF or tokenizer.json: --data's prompt lengths, and answers without usage",
    )
    max_concurrency: int | None = Field(default=None, ge=1, le=4096, description="requests in flight at most")
    shard: str | None = Field(
        default=None,
        pattern=r"^\d+/\d+$",
        description="--load-nodes: this node's share, i/K (set by the driver)",
    )
    shard_start_ns: int | None = Field(
        default=None, description="--load-nodes: the common start, in this node's perf_counter_ns"
    )
    workers: int | None = Field(
        default=None, ge=1, le=64, description="processes sending an endpoint's requests (None: automatic)"
    )
    timeout_s: float = Field(default=120.0, gt=0)
    endpoint: str | None = None
    max_memory_mb: float | None = Field(default=None, gt=0)
    force: bool = Field(
        default=False, description="load a model even when its predicted memory is over the budget"
    )
    watts_per_core: float = Field(default=10.0, gt=0)
    price_per_kwh: float = Field(default=0.30, ge=0)
    prompts_source: str = "built-in session prompts"
    models_file: str | None = None
    prompt_cache: Literal["unique-prefix", "reuse"] = "unique-prefix"
    """Servers with a prefix cache answer a repeated prompt without prefilling it again, so every round
    after the first would read a warm TTFT. ``unique-prefix`` (default) starts each request to a server
    with a short random tag so its prefill is cold, as in-process engines are (they reset their cache
    per request); ``reuse`` sends the prompts as they are, to measure the cache on purpose."""

    @field_validator("vary")
    @classmethod
    def _vary_reads(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                parse_vary(v)
            except UsageError as exc:
                raise ValueError(f"{exc.message} ({exc.hint})" if exc.hint else exc.message) from None
        return v

    @model_validator(mode="after")
    def _options_agree(self) -> BenchSettings:
        """The rules between options, the same for the CLI, ``benchmark()`` and a fleet file's
        ``settings`` (each message names the flag and, in brackets, the key)."""
        if self.profile is not None and self.rate is not None:
            raise ValueError(CONFLICTS["rate+profile"])
        if self.profile is None and (self.stage_seconds is not None or self.stage_requests is not None):
            raise ValueError(CONFLICTS["stage-without-profile"])
        if self.max_concurrency is not None and self.profile is None and self.rate is None:
            raise ValueError(CONFLICTS["max-concurrency-closed-loop"])
        if self.arrival == "poisson" and self.profile is None and self.rate is None:
            raise ValueError(CONFLICTS["poisson-closed-loop"])
        if "concurrency" in self.model_fields_set and (self.profile is not None or self.rate is not None):
            raise ValueError(CONFLICTS["concurrency-open-loop"])
        if (self.duration is not None or self.max_requests is not None) and (
            self.profile is not None or self.shard is not None
        ):
            raise ValueError(CONFLICTS["soak+profile"])
        return self


def settings_error(exc: ValidationError) -> UsageError:
    """``BenchSettings``' validation error as the CLI says it: the flag and why, or the rule broken."""
    e = exc.errors()[0]
    if not e["loc"]:  # a rule between options (CONFLICTS): its message names the flags
        return UsageError(str(e["msg"]).removeprefix("Value error, "))
    flag = "--" + "-".join(str(p) for p in e["loc"]).replace("_", "-").replace("timeout-s", "timeout")
    return UsageError(f"invalid value for {flag}: {e['msg']}")


# The cross-option rules' messages: what ``bakeoff bench`` prints and what ``BenchSettings`` raises.
CONFLICTS = {
    "rate+profile": "give --rate (rate) or --profile (profile), not both; --profile rates=R runs one "
    "open-loop stage",
    "stage-without-profile": "--stage-seconds and --stage-requests (stage_seconds, stage_requests) go "
    "with --profile (profile)",
    "max-concurrency-closed-loop": "--max-concurrency (max_concurrency) goes with --rate or --profile; a "
    "closed loop's requests in flight are --concurrency",
    "concurrency-open-loop": "--concurrency (concurrency) is the closed loop's; with --rate or --profile "
    "cap the requests in flight with --max-concurrency (max_concurrency)",
    "poisson-closed-loop": "--poisson (arrival=poisson) goes with --rate or --profile; a closed loop "
    "sends each request when one finishes",
    "soak+profile": "--duration and --max-requests (duration, max_requests) go with a closed loop or "
    "--rate, not with --profile or --load-nodes; a profile's stages take --stage-seconds and "
    "--stage-requests",
}


# ---------------------------------------------------------------------------------------------
# models.json


def load_models_file(path: str | Path, home_per_machine: bool = False) -> dict[str, ModelSpec]:
    """Read ``{alias: spec}``; every error names the file, line and key. With ``home_per_machine`` (a
    fleet) a ``path`` from ``~`` is kept as written: each machine's own home."""
    p = Path(path)
    data, text = _read_json(p)
    if not isinstance(data, dict):
        raise ConfigError(
            "expected an object mapping model aliases to settings",
            source=str(p),
            line=1,
            hint='shape: {"qwen2.5-0.5b": {"capabilities": ["chat"], "size_mb": 500}}',
        )
    out: dict[str, ModelSpec] = {}
    for alias, raw in data.items():
        if not isinstance(raw, dict):
            raise ConfigError(
                "expected an object of settings", source=str(p), line=locate(text, (alias,)), key=alias
            )
        try:
            spec = ModelSpec.model_validate(raw)
        except ValidationError as exc:
            _raise_validation(exc, p, text, (alias,), ModelSpec)
        spec = _anchor_paths(spec, p.parent, home_per_machine)
        spec._where = (str(p), locate(text, (alias,)))
        out[alias] = spec
    return out


def _anchor_paths(spec: ModelSpec, base: Path, home_per_machine: bool = False) -> ModelSpec:
    """Relative ``path``, ``weights`` and adapter files are relative to the models file's folder."""

    def anchor(v: str | None, keep_home: bool = False) -> str | None:
        if not v or (keep_home and v.startswith("~")):
            return v
        p = Path(v).expanduser()
        return str(p if p.is_absolute() else (base / p).resolve())

    update: dict[str, Any] = {"path": anchor(spec.path, home_per_machine), "weights": anchor(spec.weights)}
    update = {k: v for k, v in update.items() if v is not None}  # a key the entry did not set stays unset
    if spec.adapter and ".py:" in spec.adapter:
        file, _, cls = spec.adapter.rpartition(":")
        update["adapter"] = f"{anchor(file)}:{cls}"
    return spec.model_copy(update=update)


# ---------------------------------------------------------------------------------------------
# prompt sets


def load_prompts(path: str | Path) -> list[PromptCase]:
    """A JSON list of strings (the session's format) or of ``{id, prompt, system?, max_tokens?}``."""
    p = Path(path)
    data, text = _read_json(p)
    if not isinstance(data, list) or not data:
        raise ConfigError(
            "expected a non-empty JSON list of prompts",
            source=str(p),
            line=1,
            hint='e.g. ["Explain RAG in 2 sentences.", {"id": "privacy", "prompt": "..."}]',
        )
    cases: list[PromptCase] = []
    for i, item in enumerate(data):
        if isinstance(item, str):
            item = {"id": f"p{i + 1}", "prompt": item}
        elif isinstance(item, dict):
            item = {"id": f"p{i + 1}", **item}
            for key in ("source", "reference"):
                if isinstance(item.get(key), dict):
                    item[key] = _read_source(item[key], p, text, i, key)
        else:
            raise ConfigError(
                f"prompt {i + 1} must be a string or an object, got {type(item).__name__}",
                source=str(p),
                line=locate(text, (i,)),
                key=f"[{i}]",
            )
        try:
            cases.append(PromptCase.model_validate(item))
        except ValidationError as exc:
            _raise_validation(exc, p, text, (i,), PromptCase)
    seen: set[str] = set()
    for i, c in enumerate(cases):
        if c.id in seen:
            raise ConfigError(
                f"duplicate prompt id {c.id!r}",
                source=str(p),
                line=locate(text, (i,)),
                key=f"[{i}].id",
                hint="give every prompt a unique id",
            )
        seen.add(c.id)
    return cases


def _read_source(src: dict[str, Any], path: Path, text: str, index: int, what: str = "source") -> str:
    """``{"file": "x.txt"}`` -> the file's text, resolved against the prompt file's folder (for
    ``source`` and ``reference``)."""
    line = locate(text, (index, what))
    if set(src) != {"file"} or not isinstance(src["file"], str):
        raise ConfigError(
            f'{what} must be a string or {{"file": "path"}}',
            source=str(path),
            line=line,
            key=f"[{index}].{what}",
        )
    f = (path.parent / src["file"]).expanduser()
    try:
        return f.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{what} file {f} is not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})",
            source=str(path),
            line=line,
            key=f"[{index}].{what}.file",
            hint="save it as UTF-8",
        ) from None
    except OSError as exc:
        raise ConfigError(
            f"cannot read {what} file {f}: {exc.strerror or exc}",
            source=str(path),
            line=line,
            key=f"[{index}].{what}.file",
            hint="paths are relative to the prompt file",
        ) from None


SUITES_DIR = Path(__file__).parents[1] / "workload" / "suites"


def builtin_suites() -> list[str]:
    """Names of the suites shipped with bakeoff (``bakeoff bench --suite NAME``)."""
    return sorted(p.parent.name for p in SUITES_DIR.glob("*/suite.json"))


def load_suite(name: str) -> tuple[list[PromptCase], str]:
    """A built-in suite by name, or a suite file / folder holding ``suite.json``; (cases, source)."""
    path = Path(name).expanduser()
    if path.is_dir():
        path = path / "suite.json"
    if path.is_file():
        return load_prompts(path), str(path)
    if name in builtin_suites():
        return load_prompts(SUITES_DIR / name / "suite.json"), f"suite {name}"
    raise UsageError(
        f"unknown suite {name!r}",
        hint=f"built-in suites: {', '.join([*builtin_suites(), 'long-meetings'])}; or give a suite.json path",
    )


def session_prompts() -> list[PromptCase]:
    """The session's four prompts (``SESSION_PROMPTS``), each with deterministic checks (built-in suite
    ``session``), so the default run's recommendation weighs what a model answered, not only its speed."""
    cases = load_prompts(SUITES_DIR / "session" / "suite.json")
    assert [c.prompt for c in cases] == SESSION_PROMPTS, (
        "suites/session/suite.json drifted from SESSION_PROMPTS"
    )
    return cases


# ---------------------------------------------------------------------------------------------
# environment


def normalize_endpoint(url: str) -> str:
    """``http://host:5273`` -> ``http://host:5273/v1``; a trailing slash is dropped."""
    url = url.strip().rstrip("/")
    if not re.match(r"^https?://", url):
        raise ConfigError(
            f"endpoint {url!r} is not an http(s) URL",
            source="--endpoint / FOUNDRY_LOCAL_ENDPOINT",
            hint="use the form http://127.0.0.1:5273/v1",
        )
    return url if url.endswith("/v1") else url + "/v1"


def env_bool(name: str, value: str) -> bool:
    v = value.strip().lower()
    if v in ("1", "true", "yes", "on"):
        return True
    if v in ("0", "false", "no", "off", ""):
        return False
    raise ConfigError(f"expected 1/0 or true/false, got {value!r}", source="environment", key=name)


def env_number(name: str, value: str, kind: type[int] | type[float]) -> int | float:
    try:
        return kind(value)
    except ValueError:
        raise ConfigError(
            f"expected {'an integer' if kind is int else 'a number'}, got {value!r}",
            source="environment",
            key=name,
        ) from None


# The environment variables ``bakeoff bench`` reads, each with the setting it fills (``bench --help``
# shows each beside its flag). BENCH_STREAM takes 0/1, true/false, yes/no, on/off.
ENV_VARS: dict[str, str] = {
    "BENCH_MODELS": "models",
    "BENCH_ROUNDS": "rounds",
    "BENCH_PROMPT": "prompt",
    "BENCH_STREAM": "stream",
    "BENCH_MAX_TOKENS": "max_tokens",
    "BENCH_TEMPERATURE": "temperature",
    "FOUNDRY_LOCAL_ENDPOINT": "endpoint",
}


def _env_value(name: str, value: str) -> Any:
    if name == "BENCH_MODELS":
        names = [m.strip() for m in value.split(",") if m.strip()]
        if not names:
            raise ConfigError(
                f"BENCH_MODELS={value!r} names no model",
                source="environment",
                key="BENCH_MODELS",
                hint="give a comma list such as BENCH_MODELS=smollm2-135m,gemma3-270m, or unset it",
            )
        return names
    if name == "BENCH_STREAM":
        return env_bool(name, value)
    if name in ("BENCH_ROUNDS", "BENCH_MAX_TOKENS"):
        return env_number(name, value, int)
    if name == "BENCH_TEMPERATURE":
        return env_number(name, value, float)
    return value


def env_overrides(env: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Values from ``ENV_VARS``; flags given on the command line win over these. A variable that is set
    but blank is an error naming it (a CI variable that expanded empty must not run the defaults)."""
    env = os.environ if env is None else env
    out: dict[str, Any] = {}
    for name, field_name in ENV_VARS.items():
        value = env.get(name)
        if value is None:
            continue
        if not value.strip():
            raise ConfigError(
                f"{name} is set but empty",
                source="environment",
                key=name,
                hint=f"give it a value or unset it (unset {name})",
            )
        out[field_name] = _env_value(name, value)
    return out
