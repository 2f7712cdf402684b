"""Real tokenizers for ``--data`` against an endpoint (``--tokenizer``): a GGUF file's vocabulary through
llama.cpp, or a Hugging Face ``tokenizer.json`` through the ``tokenizers`` package (both optional)."""

from __future__ import annotations

from pathlib import Path

from bakeoff.errors import UsageError
from bakeoff.workload.synthetic import Tokenizer


class GgufTokenizer:
    """A GGUF file's tokenizer through llama.cpp (vocabulary only: no weights are loaded)."""

    def __init__(self, path: Path) -> None:
        try:
            import llama_cpp
        except ImportError:
            raise UsageError(
                f"--tokenizer {path} is a GGUF file, which needs llama-cpp-python",
                hint="pip install 'bakeoff[llamacpp]'",
            ) from None
        self.name = f"gguf:{path.name}"
        self._llm = llama_cpp.Llama(model_path=str(path), vocab_only=True, verbose=False)

    def encode(self, text: str) -> list[int]:
        return list(self._llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def decode(self, ids: list[int]) -> str:
        return bytes(self._llm.detokenize(ids)).decode("utf-8", errors="replace")


class HfTokenizer:
    """A Hugging Face ``tokenizer.json`` through the ``tokenizers`` library."""

    def __init__(self, path: Path) -> None:
        try:
            from tokenizers import Tokenizer as Hf
        except ImportError:
            raise UsageError(
                f"--tokenizer {path} is a Hugging Face tokenizer, which needs the tokenizers package",
                hint="pip install tokenizers",
            ) from None
        self.name = f"hf:{path.name}"
        self._tok = Hf.from_file(str(path))

    def encode(self, text: str) -> list[int]:
        return list(self._tok.encode(text, add_special_tokens=False).ids)

    def decode(self, ids: list[int]) -> str:
        return str(self._tok.decode(ids))


def load_tokenizer(path: str) -> Tokenizer:
    """``--tokenizer``: a ``.gguf`` file, a ``tokenizer.json`` or a folder holding one."""
    p = Path(path).expanduser()
    if p.is_dir():
        p = p / "tokenizer.json"
    if not p.is_file():
        raise UsageError(
            f"--tokenizer {path}: no such file", hint="give a .gguf file or a folder with tokenizer.json"
        )
    return GgufTokenizer(p) if p.suffix.lower() == ".gguf" else HfTokenizer(p)
