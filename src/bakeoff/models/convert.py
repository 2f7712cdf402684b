"""GGUF or Hugging Face weights to an ONNX Runtime GenAI folder (int4, CPU) for Foundry Local.

A quantized GGUF goes through transformers first (it dequantizes GGUF tensors on load; that needs
``gguf`` and ``accelerate``); the loaded model refuses ``save_pretrained``, so its state dict is copied
into a fresh model built from the same config and saved with its tokenizer. onnxruntime-genai's model
builder then writes the ONNX model, ``genai_config.json`` and the tokenizer files. The conversion stack
is the ``convert`` extra; ``torch==2.13.0`` installs a CPU build.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bakeoff.errors import BackendUnavailableError, ModelError

CONVERT_HINT = (
    "pip install torch==2.13.0 'bakeoff[convert]'  (torch first, so a CPU build is used; "
    "the extra adds transformers, accelerate, gguf and onnxruntime-genai)"
)


def missing_modules() -> list[str]:
    need = ("torch", "transformers", "gguf", "accelerate", "onnxruntime_genai", "onnx", "onnx_ir")
    return [m for m in need if not _has(m)]


def _has(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def gguf_to_hf(gguf: Path, out: Path) -> None:
    """Dequantize a GGUF file into a Hugging Face folder (safetensors, config, tokenizer)."""
    os.environ.setdefault("TQDM_DISABLE", "1")  # transformers' GGUF loader draws its own bars
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    hf_logging.disable_progress_bar()  # type: ignore[no-untyped-call]

    folder, name = str(gguf.parent), gguf.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config  # the weights are dequantized now; the builder refuses "gguf"
    fresh = AutoModelForCausalLM.from_config(config, dtype=torch.float32)  # type: ignore[no-untyped-call]
    missing, unexpected = fresh.load_state_dict(loaded.state_dict(), strict=False)
    real_missing = [k for k in missing if not k.endswith("lm_head.weight")]  # tied to the embeddings
    if real_missing or unexpected:
        raise ModelError(
            f"{gguf.name}: weights do not match the architecture "
            f"(missing {real_missing[:3]}, unexpected {unexpected[:3]})"
        )
    if hasattr(fresh, "tie_weights"):
        fresh.tie_weights()
    fresh.save_pretrained(out)
    tokenizer.save_pretrained(out)


def to_onnx_genai(src: Path, out: Path, say: Callable[[str], None], precision: str = "int4") -> Path:
    """Convert ``src`` (a GGUF file or a Hugging Face folder) into ``out``; returns ``out``."""
    missing = missing_modules()
    if missing:
        raise BackendUnavailableError(
            f"converting for Foundry Local needs {', '.join(missing)}, which are not installed",
            hint=CONVERT_HINT,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out.parent, prefix=".convert-") as tmp:
        work = Path(tmp)
        if src.is_file():
            say(f"loading {src.name} with transformers (dequantizing the GGUF tensors)")
            hf_dir = work / "hf"
            gguf_to_hf(src, hf_dir)
        elif (src / "config.json").is_file():
            hf_dir = src
        else:
            raise ModelError(f"{src} is neither a GGUF file nor a Hugging Face folder with config.json")
        say(f"building the ONNX Runtime GenAI model ({precision}, cpu)")
        target = work / "onnx"
        cmd = [
            sys.executable, "-m", "onnxruntime_genai.models.builder",
            "-i", str(hf_dir), "-o", str(target), "-p", precision, "-e", "cpu", "-c", str(work / "cache"),
        ]  # fmt: skip
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0 or not (target / "genai_config.json").is_file():
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            raise ModelError(f"onnxruntime-genai's model builder failed (exit {proc.returncode}):\n{tail}")
        if out.exists():
            shutil.rmtree(out)
        shutil.move(str(target), out)
    return out
