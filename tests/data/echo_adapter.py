"""Test adapters: a deterministic streaming echo engine, a blocking one, and one that cannot load."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class EchoAdapter:
    """Streams ``tok0 tok1 ...`` (one word per token, ``delay`` s apart) and logs how many tokens it
    produced for each request to the file given as weights, so tests can see it stop early."""

    delay = 0.005

    def load(self, weights_path: str | None) -> None:
        self.log = Path(weights_path) if weights_path else None

    def _words(self, prompt: str, params: dict[str, Any]) -> Iterator[str]:
        n = int(params.get("max_tokens") or 16)
        produced = 0
        try:
            for i in range(n):
                time.sleep(self.delay)
                produced += 1
                yield f"tok{i} "
        finally:
            if self.log:
                with self.log.open("a") as fh:
                    fh.write(f"{produced}\n")

    def stream(self, prompt: str, **params: Any) -> Iterator[str]:
        yield from self._words(prompt, params)

    def generate(self, prompt: str, **params: Any) -> str:
        return "".join(self._words(prompt, params))

    def count_tokens(self, text: str) -> int:
        return len(text.split())


class BlockingEcho(EchoAdapter):
    """No streaming: only whole answers."""

    stream = None  # type: ignore[assignment]


class BrokenAdapter:
    def load(self, weights_path: str | None) -> None:
        raise RuntimeError("weights are corrupt")

    def generate(self, prompt: str, **params: Any) -> str:
        return ""


class HogAdapter(EchoAdapter):
    """Holds a known 200 MB buffer (every page touched) while loaded."""

    size = 200 * 1024 * 1024

    def load(self, weights_path: str | None) -> None:
        super().load(weights_path)
        self.buf = bytearray(self.size)
        self.buf[::4096] = b"\x01" * len(range(0, self.size, 4096))

    def close(self) -> None:
        del self.buf


class BusyEcho(EchoAdapter):
    """Burns CPU for each token instead of sleeping (so its energy estimate is not zero)."""

    delay = 0.02

    def _words(self, prompt: str, params: dict[str, Any]) -> Iterator[str]:
        for i in range(int(params.get("max_tokens") or 16)):
            end = time.perf_counter() + self.delay
            while time.perf_counter() < end:
                pass
            yield f"tok{i} "


class SlowEcho(EchoAdapter):
    """Four times slower per token than EchoAdapter."""

    delay = 0.02


class ParamsEcho(EchoAdapter):
    """Logs, as one JSON line per request, the sampling parameters it was called with (to the weights
    file), so tests can see what the server and the benchmark pass through."""

    def _words(self, prompt: str, params: dict[str, Any]) -> Iterator[str]:
        if self.log:
            import json

            with self.log.open("a") as fh:
                fh.write(json.dumps(params, sort_keys=True) + "\n")
        for i in range(int(params.get("max_tokens") or 4)):
            time.sleep(self.delay)
            yield f"tok{i} "


class PathLeakAdapter:
    """Fails to load with an error naming a local path (as a missing weights file would)."""

    def load(self, weights_path: str | None) -> None:
        raise FileNotFoundError(f"[Errno 2] No such file or directory: '{weights_path}'")

    def generate(self, prompt: str, **params: Any) -> str:
        return ""


class InstantEcho(EchoAdapter):
    """No delay and at most 8 tokens whatever max_tokens asks, the first echoing the last message (so
    whatever a client sent comes back through the response): for fuzzing the server quickly."""

    delay = 0.0

    def _words(self, prompt: str, params: dict[str, Any]) -> Iterator[str]:
        for i in range(min(8, int(params.get("max_tokens") or 8))):
            yield str(params["messages"][-1]["content"])[:16] + " " if i == 0 else f"tok{i} "
