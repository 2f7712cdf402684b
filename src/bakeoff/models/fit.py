"""Will a GGUF model fit, before it is loaded: its memory predicted from the file's header and the
engine settings (pure: a header and numbers in, a prediction out).

What llama.cpp holds once a model runs, each part from the header (``models.gguf_header``):

- **weights**: the tensor data, every byte of it (mapped from the file and all read by a forward pass);
- **KV cache**: ``n_ctx x layers x kv_heads x (key_length x bytes(type_k) + value_length x
  bytes(type_v))`` (key and value lengths default to ``embedding_length / head_count``; a model with a
  sliding window keeps a full-size cache for every layer, as llama-cpp-python asks);
- **compute**: the activations a full micro-batch (``n_ubatch``, 512, at most ``n_ctx``) touches: its
  feed-forward and hidden states, ``u x 4 bytes x (3 x feed_forward_length + 4 x embedding_length)``,
  and without flash attention its attention scores, ``u x u x head_count x 4 bytes``. llama.cpp
  *reserves* more (logits for a whole micro-batch, the scores of a full context), but a generation run
  touches only this share, and an untouched reservation costs no RAM;
- **overhead**: the vocabulary as the engine keeps it, ``OVERHEAD_BASE_MB`` + ``OVERHEAD_PER_ENTRY_B``
  per token and merge.

The two overhead constants and the compute shape were set against the three embedded models at
n_ctx 2048 and 8192 (``bench/fit_prediction.py``, ``bench/RESULTS.md`` section 18 gives the error).
With GPU layers the weights and KV of the offloaded share of the layers are counted as VRAM, the rest
as RAM (proportional by layer: not checked against a GPU build of llama.cpp here).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bakeoff.models.gguf_header import ArrayLen, GgufHeader

MB = 1e6
OVERHEAD_BASE_MB = 5.0
OVERHEAD_PER_ENTRY_B = 150.0
DEFAULT_UBATCH = 512
KV_TYPE_BYTES: dict[str, float] = {
    "f32": 4.0,
    "f16": 2.0,
    "bf16": 2.0,
    "q8_0": 34 / 32,
    "q5_1": 24 / 32,
    "q5_0": 22 / 32,
    "q4_1": 20 / 32,
    "q4_0": 18 / 32,
    "iq4_nl": 18 / 32,
}
"""Bytes per element of each KV-cache type llama.cpp offers (a block of 32 for the quantized ones)."""
SMALLER_QUANTS = (("Q8_0", 8.5), ("Q6_K", 6.56), ("Q5_K_M", 5.69), ("Q4_K_M", 4.85), ("Q3_K_M", 3.91))
"""Common GGUF quantizations and their bits per weight (llama.cpp's quantize table), for the hint."""


@dataclass(frozen=True)
class MemoryPrediction:
    """Predicted resident memory of one model, by part, in MB (1e6 bytes, as every bakeoff MB)."""

    weights_mb: float
    kv_mb: float
    compute_mb: float
    overhead_mb: float
    n_ctx: int
    vram_mb: float = 0.0
    """The share on a GPU (offloaded layers); the rest is RAM."""

    @property
    def total_mb(self) -> float:
        return self.weights_mb + self.kv_mb + self.compute_mb + self.overhead_mb

    @property
    def ram_mb(self) -> float:
        return self.total_mb - self.vram_mb

    def breakdown(self) -> str:
        return (
            f"{self.total_mb:.0f} MB (weights {self.weights_mb:.0f} + KV cache {self.kv_mb:.0f} for n_ctx "
            f"{self.n_ctx} + compute {self.compute_mb:.0f} + vocabulary {self.overhead_mb:.0f})"
        )

    def as_info(self) -> dict[str, Any]:
        """The prediction as a summary row keeps it (``info.memory_prediction``)."""
        return {
            "total_mb": round(self.total_mb, 1),
            "ram_mb": round(self.ram_mb, 1),
            "vram_mb": round(self.vram_mb, 1),
            "weights_mb": round(self.weights_mb, 1),
            "kv_mb": round(self.kv_mb, 1),
            "compute_mb": round(self.compute_mb, 1),
            "overhead_mb": round(self.overhead_mb, 1),
            "n_ctx": self.n_ctx,
        }


def _per_layer(value: Any, layers: int) -> list[int]:
    """A per-layer header value (one number for every layer, or a list of them)."""
    if isinstance(value, list):
        return [int(v) for v in value][:layers]
    return [int(value)] * layers


def _length(value: Any) -> int:
    if isinstance(value, ArrayLen):
        return value.length
    return len(value) if isinstance(value, list) else 0


def kv_bytes_per_token(header: GgufHeader, type_k: str = "f16", type_v: str = "f16") -> float:
    """Bytes of KV cache per token of context, over every layer."""
    layers = int(header.get("block_count", 0))
    embd, heads = int(header.get("embedding_length", 0)), header.get("attention.head_count", 1)
    heads_l = _per_layer(heads, layers)
    kv_heads = _per_layer(header.get("attention.head_count_kv", heads), layers)
    total = 0.0
    for h, kv in zip(heads_l, kv_heads, strict=False):
        k_len = int(header.get("attention.key_length", embd // max(h, 1)))
        v_len = int(header.get("attention.value_length", k_len))
        total += kv * (k_len * KV_TYPE_BYTES[type_k] + v_len * KV_TYPE_BYTES[type_v])
    return total


def predict(
    header: GgufHeader,
    n_ctx: int,
    *,
    type_k: str = "f16",
    type_v: str = "f16",
    n_ubatch: int = DEFAULT_UBATCH,
    n_gpu_layers: int = 0,
    flash_attn: bool = False,
) -> MemoryPrediction:
    """The memory the model will hold under these settings (the module's docstring says how)."""
    layers = int(header.get("block_count", 0))
    embd, ff = int(header.get("embedding_length", 0)), header.get("feed_forward_length", 0)
    ff_max = max(_per_layer(ff, max(layers, 1)) or [0])
    heads = max(_per_layer(header.get("attention.head_count", 1), max(layers, 1)) or [1])
    u = min(n_ubatch, n_ctx)
    compute = u * 4 * (3 * ff_max + 4 * embd) + (0 if flash_attn else u * u * heads * 4)
    entries = _length(header.metadata.get("tokenizer.ggml.tokens")) + _length(
        header.metadata.get("tokenizer.ggml.merges")
    )
    weights = header.tensor_bytes / MB
    kv = n_ctx * kv_bytes_per_token(header, type_k, type_v) / MB
    offloaded = layers if n_gpu_layers < 0 else min(n_gpu_layers, layers)
    share = offloaded / layers if layers else 0.0
    vram = share * (weights + kv) + (compute / MB if offloaded else 0.0)
    return MemoryPrediction(
        weights_mb=weights,
        kv_mb=kv,
        compute_mb=compute / MB,
        overhead_mb=OVERHEAD_BASE_MB + OVERHEAD_PER_ENTRY_B * entries / MB,
        n_ctx=n_ctx,
        vram_mb=vram,
    )


def largest_context(header: GgufHeader, budget_mb: float, n_ctx: int, **settings: Any) -> int | None:
    """The largest power-of-two context below ``n_ctx`` (at least 256) whose prediction fits
    ``budget_mb`` of RAM; None when even 256 does not."""
    size = 1 << (max(n_ctx - 1, 1).bit_length() - 1)  # the largest power of two below n_ctx
    while size >= 256:
        if predict(header, size, **settings).ram_mb <= budget_mb:
            return size
        size //= 2
    return None


def smaller_quant(
    header: GgufHeader, budget_mb: float, n_ctx: int, **settings: Any
) -> tuple[str, float] | None:
    """The largest common quantization of these weights (bits per weight) that would fit, with its
    predicted MB; None when none of them would or the file is already that small."""
    p = predict(header, n_ctx, **settings)
    bits_now = 8 * header.tensor_bytes / max(header.parameters, 1)
    for name, bits in SMALLER_QUANTS:
        if bits >= bits_now:
            continue
        need = p.ram_mb - p.weights_mb + header.parameters * bits / 8 / MB
        if need <= budget_mb:
            return name, need
    return None


def will_not_fit(
    header: GgufHeader, prediction: MemoryPrediction, ram_budget_mb: float, why_budget: str, **settings: Any
) -> tuple[str, str] | None:
    """(message, next steps) when the predicted RAM is over the budget; None when it fits."""
    if prediction.ram_mb <= ram_budget_mb:
        return None
    steps = []
    ctx = largest_context(header, ram_budget_mb, prediction.n_ctx, **settings)
    if ctx is not None:
        steps.append(f"options.n_ctx {ctx} would need {predict(header, ctx, **settings).ram_mb:.0f} MB")
    if (quant := smaller_quant(header, ram_budget_mb, prediction.n_ctx, **settings)) is not None:
        steps.append(f"a {quant[0]} variant of these weights would need about {quant[1]:.0f} MB")
    steps.append("stop other models or programs to free memory")
    steps.append("--force loads it anyway")
    message = (
        f"will not fit: predicted {prediction.breakdown()} is over the {ram_budget_mb:.0f} MB {why_budget}"
    )
    return message, "; ".join(steps)
