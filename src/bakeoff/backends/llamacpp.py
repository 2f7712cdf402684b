"""In-process llama.cpp through llama-cpp-python over GGUF files: the embedded default engine.

Generation runs in a worker thread with its own token loop over ``Llama.generate`` so that every
token is timed where it is sampled and counted natively (one event per token; a token that ends
inside a UTF-8 character is carried by the next event). The prompt is rendered with the chat
template stored in the GGUF, or with a named llama-cpp-python chat format (``chat_format``).

A fresh request never reuses the previous prompt's KV cache: the context is reset before each
one, so a repeated identical prompt pays its full prefill again. Set ``reuse_prompt_cache: true``
in models.json to let llama.cpp reuse a matching prefix, as a long-running server would.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import importlib.util
import json
import os
import re
import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import contextmanager
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import psutil

from bakeoff.backends.base import ChatRequest, Completion, Event, TextDelta
from bakeoff.backends.threaded import Put, stream_from_thread
from bakeoff.config.settings import ModelSpec
from bakeoff.errors import BackendUnavailableError, ModelError, ModelNotFoundError, RequestError
from bakeoff.models import embedded, fit
from bakeoff.models.fit import MemoryPrediction
from bakeoff.models.gguf_header import read_header

_INSTALL_HINT = "install the engine: pip install 'bakeoff[llamacpp]' (compiles llama.cpp, about 4 minutes)"

_ENGINE_OPTIONS = {
    "realtime_stream",
    "stream_interval_ms",
    "n_ctx",
    "n_threads",
    "n_threads_batch",
    "n_batch",
    "n_gpu_layers",
    "use_mmap",
    "use_mlock",
    "flash_attn",
    "n_ubatch",
    "type_k",
    "type_v",
}
_DELIVERY_OPTIONS = ("realtime_stream", "stream_interval_ms")
# key -> (lowest, highest, whole number): checked at config time, so a typo is not a load-time TypeError
# or a 5 GB allocation before llama.cpp refuses (n_ctx above 1M tokens is no small model's)
_OPTION_RANGES: dict[str, tuple[float, float, bool]] = {
    "n_ctx": (64, 1_048_576, True),
    "n_threads": (1, 1024, True),
    "n_threads_batch": (1, 1024, True),
    "n_batch": (1, 1_048_576, True),
    "n_ubatch": (1, 1_048_576, True),
    "n_gpu_layers": (-1, 100_000, True),
    "stream_interval_ms": (0, 60_000, False),
    "top_k": (0, 1_000_000, True),
    "top_p": (0, 1, False),
    "min_p": (0, 1, False),
    "typical_p": (0, 1, False),
    "repeat_penalty": (0, 10, False),
    "frequency_penalty": (-2, 2, False),
    "presence_penalty": (-2, 2, False),
}
_BOOL_OPTIONS = frozenset({"realtime_stream", "use_mmap", "use_mlock", "flash_attn"})
_GGML_TYPES = {
    "f32": 0,
    "f16": 1,
    "q4_0": 2,
    "q4_1": 3,
    "q5_0": 6,
    "q5_1": 7,
    "q8_0": 8,
    "iq4_nl": 20,
    "bf16": 30,
}
"""KV-cache types by name (``options.type_k`` / ``type_v``) and the GGML type number llama.cpp takes."""
_SAMPLING_OPTIONS = {
    "top_k",
    "top_p",
    "min_p",
    "repeat_penalty",
    "typical_p",
    "frequency_penalty",
    "presence_penalty",
}


@contextmanager
def quiet_stderr() -> Iterator[None]:
    """Silence llama.cpp's C-level log lines on fd 2 while a model loads (they bypass Python)."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as devnull:
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


OPENMP_WARNING = (
    "llama-cpp-python was built with OpenMP: generating from any thread but the main one ran about 3x "
    "slower here. Reinstall with CMAKE_ARGS='-DGGML_OPENMP=OFF' pip install --no-cache-dir "
    "--force-reinstall llama-cpp-python (the Makefile does)."
)


def openmp_build() -> bool:
    """True when the installed llama.cpp uses OpenMP (slow outside the main thread, see README)."""
    try:
        import llama_cpp

        return b"OPENMP = 1" in llama_cpp.llama_print_system_info()
    except Exception:
        return False


_BACKEND_NAME = re.compile(r"(?:^|\|)\s*([A-Za-z][A-Za-z0-9_]*) : ")
GPU_BUILD_HINT = (
    "install a GPU build: CMAKE_ARGS='-DGGML_CUDA=on' (or -DGGML_METAL=on, -DGGML_VULKAN=on) "
    "pip install --no-cache-dir --force-reinstall llama-cpp-python"
)


def built_backends(system_info: str) -> list[str]:
    """The ggml backends llama.cpp was built with, from its system info (``"CUDA : ARCHS = 890 | ...
    | CPU : SSE3 = 1 | ..."`` -> ``["CUDA", "CPU"]``)."""
    return list(dict.fromkeys(_BACKEND_NAME.findall(system_info)))


def device_facts(
    asked: int, offload_supported: bool, n_layer: int | None, backends: list[str]
) -> dict[str, Any]:
    """What ran, never what was asked: the layers really offloaded (llama.cpp offloads at most the
    model's layers and its output layer; ``-1`` asks for all of them; a build without GPU offload
    offloads none) and the device label that follows, with a warning when the two differ."""
    gpus = [b for b in backends if b not in ("CPU", "BLAS", "RPC")]
    whole = None if n_layer is None else n_layer + 1
    if not offload_supported or asked == 0:
        offloaded: int | None = 0
    elif asked < 0 or (whole is not None and asked > whole):
        offloaded = whole
    else:
        offloaded = asked
    facts: dict[str, Any] = {
        "device": "cpu" if offloaded == 0 else f"gpu ({', '.join(gpus) or 'offload'})",
        "gpu_layers_asked": asked,
        "gpu_layers_offloaded": offloaded,
        "engine_build": ", ".join(backends) or "unknown",
    }
    if offloaded != 0 and whole is not None and offloaded is not None and offloaded < whole:
        facts["device"] += f", {offloaded} of {whole} layers"
    if asked != 0 and not offload_supported:
        facts["device_warning"] = (
            f"n_gpu_layers={asked} was asked, but this llama-cpp-python build has no GPU offload "
            f"(built for {', '.join(backends) or 'the CPU'}): it ran on the CPU; {GPU_BUILD_HINT}"
        )
    return facts


def _import_llama() -> Any:
    try:
        import llama_cpp
    except ImportError:
        raise BackendUnavailableError("llama-cpp-python is not installed", hint=_INSTALL_HINT) from None
    return llama_cpp


class LlamaCppBackend:
    """One GGUF model loaded in this process."""

    kind = "llamacpp"
    supports_streaming = True
    in_process = True
    constrains = "llama.cpp grammar built from the schema"
    threaded_engine = True  # generates in a worker thread; takes realtime_stream options under serve
    spec_keys = frozenset({"path", "embedded", "chat_format", "options", "reuse_prompt_cache"})
    """The models.json keys a llamacpp entry reads; any other (``model``, ``base_url``...) is an error."""
    import_by_default = True  # `bakeoff models import FILE.gguf` without --to registers it here

    @classmethod
    def spec_for(cls, ref: str, endpoint: str | None) -> ModelSpec:
        """``llamacpp:ALIAS`` (an embedded model) or ``llamacpp:/path/to/file.gguf``."""
        if ref in embedded.EMBEDDED:
            return ModelSpec(backend="llamacpp", embedded=ref)
        path = Path(ref).expanduser()
        if not path.is_file():
            raise ModelNotFoundError(f"no GGUF file at {path} and no embedded model named {ref!r}")
        return ModelSpec(backend="llamacpp", path=str(path))

    @classmethod
    def doctor_checks(cls) -> list[tuple[str, bool, str]]:
        """Is the engine installed, and built without OpenMP?"""
        if importlib.util.find_spec("llama_cpp") is None:
            missing = "llama-cpp-python is not installed: pip install 'bakeoff[llamacpp]'"
            return [("engine llama.cpp", False, missing)]
        bad = openmp_build()
        return [("engine llama.cpp", not bad, OPENMP_WARNING if bad else "installed")]

    # catalog hooks (bakeoff.backends.catalog calls these through the backend registry)
    @classmethod
    def catalog_entries(cls, include_public: bool, endpoint: str | None) -> tuple[list[Any], list[str]]:
        from bakeoff.backends.llamacpp_catalog import entries

        return entries(), []

    @classmethod
    def cache_locations(cls) -> dict[str, str]:
        from bakeoff.backends.llamacpp_catalog import cache_locations

        return cache_locations()

    @classmethod
    def remove_cached(cls, alias: str) -> str | None:
        from bakeoff.backends.llamacpp_catalog import remove_cached

        return remove_cached(alias)

    @classmethod
    def download(cls, ref: str, progress: Any, alias: str | None = None) -> str | None:
        from bakeoff.backends.llamacpp_catalog import download

        return download(ref, progress, alias)

    @classmethod
    def import_model(cls, path: Path, alias: str, say: Any) -> tuple[str, str]:
        from bakeoff.backends.llamacpp_catalog import import_model

        return import_model(path, alias, say)

    @classmethod
    def option_problems(cls, options: dict[str, Any]) -> list[str]:
        """What is wrong with a models.json ``options`` block (checked before any model loads): an
        unknown key, or a value of the wrong type or out of range (``"n_ctx": "2048"``, ``-5``)."""
        unknown = set(options) - _ENGINE_OPTIONS - _SAMPLING_OPTIONS
        out = []
        if unknown:
            out.append(
                f"unknown llamacpp options {sorted(unknown)}; "
                f"known: {', '.join(sorted(_ENGINE_OPTIONS | _SAMPLING_OPTIONS))}"
            )
        for key, value in options.items():
            if key in _OPTION_RANGES:
                low, high, whole = _OPTION_RANGES[key]
                is_number = isinstance(value, int | float) and not isinstance(value, bool)
                if not is_number or (whole and not isinstance(value, int)) or not low <= value <= high:
                    kind, span = (
                        ("a whole number", f"{low:.0f} to {high:.0f}")
                        if whole
                        else ("a number", f"{low:g} to {high:g}")
                    )
                    out.append(f"options.{key} must be {kind} from {span}, got {value!r}")
            elif key in _BOOL_OPTIONS and not isinstance(value, bool):
                out.append(f"options.{key} must be true or false, got {value!r}")
            elif key in ("type_k", "type_v") and value not in _GGML_TYPES:
                out.append(f"options.{key} must be one of {', '.join(_GGML_TYPES)}, got {value!r}")
        return out

    def __init__(self, name: str, spec: ModelSpec) -> None:
        self.name = name
        self.spec = spec
        if problems := self.option_problems(spec.options):
            raise ModelError(f"{name}: {problems[0]}")
        self.path: Path | None = None
        self.llm: Any = None
        self._lock = asyncio.Lock()
        self._format: Callable[[list[dict[str, str]]], tuple[str, bool, list[str]]] | None = None
        self.chat_format_used = ""
        self._eog: list[int] | None = None
        self._grammars: dict[str, str] = {}  # JSON schema -> GBNF text
        self.realtime = bool(spec.options.get("realtime_stream", False))
        self._context_wanted: int | None = None
        self.context_note: str | None = None
        self.interval_s = float(spec.options.get("stream_interval_ms", 0)) / 1000
        self._memory_budget: tuple[float | None, bool] = (None, False)
        self.prediction: MemoryPrediction | None = None

    def _resolve_path(self) -> Path:
        if self.spec.path:
            p = Path(self.spec.path).expanduser()
            if p.is_dir():
                raise ModelNotFoundError(
                    f"{p} is a folder, not a GGUF file",
                    hint="give 'path' the .gguf file inside it: llama.cpp loads one file",
                )
            if not p.is_file():
                raise ModelNotFoundError(f"GGUF file not found: {p}", hint="fix 'path' in models.json")
            return p
        alias = self.spec.embedded or self.name
        model = embedded.EMBEDDED.get(alias)
        if model is None:
            raise ModelNotFoundError(
                f"no GGUF path and no embedded model named {alias!r}",
                hint=f"set 'path' in models.json or use one of {', '.join(embedded.EMBEDDED)}",
            )
        return embedded.ensure(model)

    def _chat_format(self) -> str | None:
        if self.spec.chat_format:
            return self.spec.chat_format
        model = embedded.EMBEDDED.get(self.spec.embedded or "")
        return model.chat_format if model else None

    async def load(self) -> float:
        llama_cpp = _import_llama()
        self.path = await asyncio.to_thread(self._resolve_path)
        opts = {
            k: v for k, v in self.spec.options.items() if k in _ENGINE_OPTIONS and k not in _DELIVERY_OPTIONS
        }
        if "n_ctx" not in opts:  # 2048, or what the run's longest prompt needs (in steps of 1024)
            opts["n_ctx"] = max(2048, -(-(self._context_wanted or 0) // 1024) * 1024)
        opts.setdefault("n_gpu_layers", 0)
        # llama-cpp-python defaults to half the logical CPUs; use every CPU this process may run on
        opts.setdefault(
            "n_threads",
            len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1),
        )
        self._check_fit(opts)  # before any load: a model that will not fit fails with the next step
        for key in ("type_k", "type_v"):
            if key in opts:
                opts[key] = _GGML_TYPES[opts[key]]
        start = time.perf_counter()
        try:
            self.llm = await asyncio.to_thread(self._construct, llama_cpp, opts)
        except (ValueError, RuntimeError, OSError) as exc:
            raise ModelError(
                f"llama.cpp could not load {self.path}: {exc}", hint="check that the file is a valid GGUF"
            ) from None
        elapsed = time.perf_counter() - start
        trained = self.llm.n_ctx_train() if hasattr(self.llm, "n_ctx_train") else None
        if trained and opts["n_ctx"] > trained:
            self.context_note = (
                f"n_ctx {opts['n_ctx']} is beyond the {trained} tokens the model was trained on: "
                "answers past that length may degrade"
            )
        self._format = self._make_formatter(llama_cpp)
        return elapsed

    def set_memory_budget(self, max_memory_mb: float | None, force: bool) -> None:
        """The run's ``--max-memory-mb`` (else the RAM free at load time is the budget) and ``--force``
        (load even when the prediction says it will not fit)."""
        self._memory_budget = (max_memory_mb, force)

    def _check_fit(self, opts: dict[str, Any]) -> None:
        """Predict the model's memory from its GGUF header (``models.fit``) and refuse to load it when
        the RAM budget (the free RAM now, or ``--max-memory-mb`` where lower) is smaller."""
        assert self.path is not None
        try:
            header = read_header(self.path)
        except (ModelError, OSError):
            return  # not a readable GGUF header: llama.cpp's own load says what is wrong
        settings: dict[str, Any] = {
            "type_k": opts.get("type_k", "f16"),
            "type_v": opts.get("type_v", "f16"),
            "n_ubatch": int(opts.get("n_ubatch", fit.DEFAULT_UBATCH)),
            "n_gpu_layers": int(opts.get("n_gpu_layers", 0)),
            "flash_attn": bool(opts.get("flash_attn", False)),
        }
        self.prediction = fit.predict(header, int(opts["n_ctx"]), **settings)
        limit, force = self._memory_budget
        free = psutil.virtual_memory().available / fit.MB
        if limit is not None and limit < free:
            budget, why = limit, "--max-memory-mb budget"
        else:
            budget, why = free, "of RAM free now"
        verdict = fit.will_not_fit(header, self.prediction, budget, why, **settings)
        if verdict is not None and not force:
            raise ModelError(f"{self.name}: {verdict[0]}", hint=verdict[1])

    def want_context(self, tokens: int) -> None:
        """The run's longest request needs about ``tokens`` of context: without ``options.n_ctx`` the
        model is loaded with enough (at least 2048), and a size beyond its trained length is noted."""
        self._context_wanted = tokens

    def _construct(self, llama_cpp: Any, opts: dict[str, Any]) -> Any:
        with quiet_stderr():
            return llama_cpp.Llama(model_path=str(self.path), verbose=False, **opts)

    def _make_formatter(
        self, llama_cpp: Any
    ) -> Callable[[list[dict[str, str]]], tuple[str, bool, list[str]]]:
        from llama_cpp import llama_chat_format as lcf

        name = self._chat_format()
        llm = self.llm
        if name:
            fn = getattr(lcf, "format_" + name.replace("-", "_").replace(".", "_"), None)
            if fn is None:
                raise ModelError(
                    f"unknown chat_format {name!r}",
                    hint="use a llama-cpp-python chat format (e.g. gemma, chatml, llama-2) or leave it unset",
                )
            self.chat_format_used = name

            def fmt_named(messages: list[dict[str, str]]) -> tuple[str, bool, list[str]]:
                r = fn(messages=messages)
                stop = [r.stop] if isinstance(r.stop, str) else list(r.stop or [])
                return r.prompt, bool(r.added_special), stop

            return fmt_named
        template = llm.metadata.get("tokenizer.chat_template")
        if not template:
            raise ModelError(
                f"{self.path} has no chat template",
                hint="set chat_format in models.json (e.g. 'chatml' or 'gemma')",
            )
        eos, bos = llm.token_eos(), llm.token_bos()
        formatter = lcf.Jinja2ChatFormatter(
            template=template,
            eos_token=llm._model.token_get_text(eos) if eos != -1 else "",
            bos_token=llm._model.token_get_text(bos) if bos != -1 else "",
        )
        self.chat_format_used = "gguf chat template"

        def fmt_template(messages: list[dict[str, str]]) -> tuple[str, bool, list[str]]:
            r = formatter(messages=messages)  # type: ignore[arg-type]
            return r.prompt, bool(r.added_special), [s for s in (r.stop or []) if s]

        return fmt_template

    def describe(self) -> dict[str, Any]:
        try:
            engine_version = version("llama-cpp-python")
        except PackageNotFoundError:
            engine_version = "unknown"
        info: dict[str, Any] = {
            "engine": f"llama.cpp (llama-cpp-python {engine_version})",
            "path": str(self.path) if self.path else None,
            "chat_format": self.chat_format_used,
            "reuse_prompt_cache": self.spec.reuse_prompt_cache,
        }
        info.update(self._device())
        if self.path and self.path.exists():
            info["disk_mb"] = round(self.path.stat().st_size / 1e6, 1)
        if self.llm is not None:
            info["n_ctx"] = self.llm.n_ctx()
            info["n_threads"] = self.llm.n_threads
            if hasattr(self.llm, "n_ctx_train"):
                info["n_ctx_train"] = self.llm.n_ctx_train()
        if self.prediction is not None:
            info["memory_prediction"] = self.prediction.as_info()
        if self.context_note:
            info["context_warning"] = self.context_note
        if self.spec.embedded:
            info["embedded"] = self.spec.embedded
        if openmp_build():
            info["engine_warning"] = OPENMP_WARNING
        return info

    def _device(self) -> dict[str, Any]:
        """``device_facts`` of the loaded model, read from the engine (before a load: what was asked)."""
        asked = int(self.spec.options.get("n_gpu_layers") or 0)
        try:
            llama_cpp = _import_llama()
            supported = bool(llama_cpp.llama_supports_gpu_offload())
            backends = built_backends(llama_cpp.llama_print_system_info().decode("utf-8", "replace"))
        except Exception:  # no engine to ask: say only what was asked
            return {
                "device": "cpu" if not asked else "unknown (gpu offload asked)",
                "gpu_layers_asked": asked,
            }
        n_layer = None
        if self.llm is not None:
            with contextlib.suppress(Exception):
                n_layer = int(llama_cpp.llama_model_n_layer(self.llm._model.model))
        return device_facts(asked, supported, n_layer, backends)

    def _grammar(self, schema: dict[str, Any]) -> Any:
        """llama.cpp's GBNF grammar for a JSON schema (built once per schema; the engine keeps the state
        of a grammar per generation, so a fresh copy is made each time from the cached text)."""
        llama_cpp = _import_llama()
        key = json.dumps(schema, sort_keys=True)
        if key not in self._grammars:
            from llama_cpp.llama_grammar import json_schema_to_gbnf

            self._grammars[key] = json_schema_to_gbnf(key)
        return llama_cpp.LlamaGrammar.from_string(self._grammars[key], verbose=False)

    async def stream_chat(self, request: ChatRequest) -> AsyncIterator[Event]:
        """Stream one answer; each token is timed in the generating thread as it is sampled."""
        if self.llm is None or self._format is None:
            raise RequestError("engine", "model is not loaded")

        def produce(put: Put, stop: threading.Event) -> None:
            self._generate(request, put, stop)

        async for ev in stream_from_thread(produce, request, self._lock, self.realtime, self.interval_s):
            yield ev

    def _generate(self, request: ChatRequest, put: Callable[[Any], None], stop: threading.Event) -> None:
        """The token loop (worker thread). Emits TextDelta per token, then Completion, then None."""
        llama_cpp = _import_llama()
        llm = self.llm
        assert self._format is not None
        try:
            prompt, added_special, stops = self._format(list(request.messages))
            stops = [*stops, *(s for s in request.stop if s)]
            tokens = llm.tokenize(prompt.encode("utf-8"), add_bos=not added_special, special=True)
            n_ctx = llm.n_ctx()
            if len(tokens) + request.max_tokens > n_ctx:
                raise RequestError(
                    "context_length",
                    f"prompt of {len(tokens)} tokens + max_tokens {request.max_tokens} exceed n_ctx {n_ctx}",
                    hint="raise options.n_ctx in models.json or lower --max-tokens",
                )
            if not self.spec.reuse_prompt_cache:
                llm.reset()  # forget the previous request's KV cache: no silent prefix reuse
            if request.seed is not None:
                llm.set_seed(request.seed)
            sampling = {k: v for k, v in self.spec.options.items() if k in _SAMPLING_OPTIONS}
            sampling.update({k: v for k, v in request.extra.items() if k in _SAMPLING_OPTIONS})
            if request.top_p is not None:
                sampling["top_p"] = request.top_p
            sampling.setdefault("top_k", 40)
            sampling.setdefault("top_p", 0.95)
            sampling.setdefault("min_p", 0.05)
            sampling.setdefault("repeat_penalty", 1.0)
            decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
            vocab = llm._model.vocab
            text_so_far = ""
            n_out = 0
            carried = 0
            finish = "length"
            forced = request.min_tokens or 0
            if forced:
                eog = self._eog_ids()

                def no_end(_ids: Any, scores: Any) -> Any:  # the end of sequence waits for min_tokens
                    if n_out < forced:
                        scores[eog] = -float("inf")
                    return scores

                sampling["logits_processor"] = llama_cpp.LogitsProcessorList([no_end])
            if request.json_schema is not None:  # constrained: only tokens the schema's grammar allows
                sampling["grammar"] = self._grammar(request.json_schema)
            # reset=True: with reuse, generate() itself keeps the longest matching prefix of the KV cache
            for token in llm.generate(tokens, temp=request.temperature, reset=True, **sampling):
                t = time.perf_counter_ns()
                if llama_cpp.llama_vocab_is_eog(vocab, token):
                    finish = "stop"
                    break
                n_out += 1
                carried += 1
                piece = decoder.decode(llm.detokenize([token], special=False))
                if piece:
                    text_so_far += piece
                    hit = None if n_out < forced else next((s for s in stops if s in text_so_far), None)
                    if hit:
                        cut = text_so_far.index(hit)
                        keep = piece[: max(0, len(piece) - (len(text_so_far) - cut))]
                        if keep:
                            put(TextDelta(t, keep, carried))
                        finish = "stop"
                        break
                    put(TextDelta(t, piece, carried))
                    carried = 0
                if n_out >= request.max_tokens or stop.is_set():
                    break
            if stop.is_set():
                return
            put(Completion(time.perf_counter_ns(), len(tokens), n_out, "native", finish))
        except RequestError as exc:
            put(exc)
        except Exception as exc:  # engine failure: report, never crash the run
            put(RequestError("engine", f"llama.cpp failed: {type(exc).__name__}: {exc}"))
        finally:
            put(None)

    def _eog_ids(self) -> list[int]:
        """Every end-of-generation token id of the loaded vocabulary (computed once)."""
        if self._eog is None:
            llama_cpp = _import_llama()
            vocab = self.llm._model.vocab
            self._eog = [i for i in range(self.llm.n_vocab()) if llama_cpp.llama_vocab_is_eog(vocab, i)]
        return self._eog

    def tokenizer(self) -> _LlamaTokenizer | None:
        """The loaded model's own tokenizer (``--data`` builds prompts of an exact length with it)."""
        return _LlamaTokenizer(self.llm) if self.llm is not None else None

    async def close(self) -> None:
        if self.llm is not None:
            llm, self.llm = self.llm, None
            close = getattr(llm, "close", None)
            if close:
                await asyncio.to_thread(close)


class _LlamaTokenizer:
    """A loaded llama.cpp model's tokenizer: text to ids and back, without special tokens."""

    name = "the model's own (llama.cpp)"

    def __init__(self, llm: Any) -> None:
        self._llm = llm

    def encode(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def decode(self, ids: list[int]) -> str:
        return bytes(self._llm.detokenize(ids)).decode("utf-8", errors="replace")
