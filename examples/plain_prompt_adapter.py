"""A real custom adapter: llama-cpp-python's own completion API with a plain Q/A prompt template,
over any GGUF (by default the embedded SmolLM2-135M). It is a different engine path and a different
prompt template from bakeoff's built-in llamacpp backend, so the two can be compared side by side.

models.json (see examples/models.json)::

    "smollm2-plain": {"adapter": "plain_prompt_adapter.py:PlainPromptAdapter"}
    "smollm2-plain-blocking": {"adapter": "plain_prompt_adapter.py:PlainPromptBlocking"}
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


class PlainPromptAdapter:
    """Streams through ``Llama.create_completion`` with a ``Question:/Answer:`` template."""

    def __init__(self) -> None:
        self.llm: Any = None

    def load(self, weights_path: str | None) -> None:
        import llama_cpp

        if weights_path is None:
            from bakeoff.models import embedded

            weights_path = str(embedded.ensure(embedded.EMBEDDED["smollm2-135m"]))
        self.llm = llama_cpp.Llama(model_path=weights_path, n_ctx=2048, verbose=False)

    def _prompt(self, prompt: str) -> str:
        return f"Question: {prompt}\nAnswer:"

    def _args(self, params: dict[str, Any]) -> dict[str, Any]:
        args: dict[str, Any] = {
            "max_tokens": params.get("max_tokens") or 64,
            "temperature": params.get("temperature") or 0.0,
            "stop": ["\nQuestion:", *(params.get("stop") or [])],
        }
        if params.get("top_p") is not None:
            args["top_p"] = params["top_p"]
        if params.get("seed") is not None:
            args["seed"] = params["seed"]
        return args

    def generate(self, prompt: str, **params: Any) -> str:
        self.llm.reset()
        out = self.llm.create_completion(self._prompt(prompt), **self._args(params))
        return str(out["choices"][0]["text"])

    def stream(self, prompt: str, **params: Any) -> Iterator[str]:
        self.llm.reset()
        for chunk in self.llm.create_completion(self._prompt(prompt), stream=True, **self._args(params)):
            text = chunk["choices"][0]["text"]
            if text:
                yield text

    def count_tokens(self, text: str) -> int:
        return len(self.llm.tokenize(text.encode("utf-8"), add_bos=False)) if text else 0

    def close(self) -> None:
        if self.llm is not None:
            self.llm.close()
            self.llm = None


class PlainPromptBlocking(PlainPromptAdapter):
    """The same adapter without streaming: benchmarked for latency and tokens, TTFT unavailable."""

    stream = None  # type: ignore[assignment]
