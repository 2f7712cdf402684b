"""Memory-fit prediction: the GGUF header read against the ``gguf`` library (llama.cpp's own reader)
and the prediction's parts by hand (a real model refused before its load: ``test_realmodel.py``)."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from bakeoff.errors import ModelError
from bakeoff.models import embedded
from bakeoff.models.fit import (
    MB,
    kv_bytes_per_token,
    largest_context,
    predict,
    smaller_quant,
    will_not_fit,
)
from bakeoff.models.gguf_header import ArrayLen, GgufHeader, TensorInfo, read_header

SMOL = embedded.EMBEDDED["smollm2-135m"]


def _header(meta: dict[str, object], tensor_bytes: int = 10_000_000, params: int = 20_000_000) -> GgufHeader:
    t = TensorInfo("w", (params,), 0, 0, tensor_bytes)
    return GgufHeader(
        Path("x.gguf"), 3, {"general.architecture": "llama", **meta}, (t,), 64, tensor_bytes + 64
    )


TINY = {
    "llama.block_count": 2,
    "llama.embedding_length": 64,
    "llama.attention.head_count": 4,
    "llama.attention.head_count_kv": 2,
    "llama.feed_forward_length": 128,
    "tokenizer.ggml.tokens": ArrayLen(8, 100),
}


def test_kv_cache_by_hand() -> None:
    # key length 64 / 4 = 16; per layer 2 kv heads x (16 x 2 bytes + 16 x 2 bytes) = 128 bytes; 2 layers
    assert kv_bytes_per_token(_header(TINY)) == 256
    # q8_0 keys: 16 x 34/32 = 17 bytes; f16 values 32 bytes: 2 x 2 x (17 + 32) = 196
    assert kv_bytes_per_token(_header(TINY), "q8_0", "f16") == 196
    # explicit key / value lengths win over embedding / heads
    meta = {**TINY, "llama.attention.key_length": 8, "llama.attention.value_length": 4}
    assert kv_bytes_per_token(_header(meta)) == 2 * 2 * (8 * 2 + 4 * 2)
    # a per-layer list of kv heads is summed layer by layer
    assert kv_bytes_per_token(_header({**TINY, "llama.attention.head_count_kv": [1, 3]})) == (1 + 3) * 64


def test_prediction_by_hand() -> None:
    p = predict(_header(TINY), 1024)
    assert p.weights_mb == 10.0
    assert p.kv_mb == pytest.approx(1024 * 256 / MB)
    # micro-batch 512: 512 x 4 x (3 x 128 + 4 x 64) = 1,310,720; scores 512 x 512 x 4 heads x 4 = 4,194,304
    assert p.compute_mb == pytest.approx((1_310_720 + 4_194_304) / MB)
    assert p.overhead_mb == pytest.approx(5 + 150 * 100 / MB)
    assert p.total_mb == pytest.approx(p.weights_mb + p.kv_mb + p.compute_mb + p.overhead_mb)
    assert p.vram_mb == 0 and p.ram_mb == p.total_mb
    # a context below the micro-batch shrinks it; flash attention drops the scores
    small = predict(_header(TINY), 256, flash_attn=True)
    assert small.compute_mb == pytest.approx(256 * 4 * (3 * 128 + 4 * 64) / MB)
    # half the layers on a GPU: half the weights and KV, and the compute, are VRAM
    half = predict(_header(TINY), 1024, n_gpu_layers=1)
    assert half.vram_mb == pytest.approx(0.5 * (p.weights_mb + p.kv_mb) + p.compute_mb)
    assert predict(_header(TINY), 1024, n_gpu_layers=-1).vram_mb == pytest.approx(
        p.weights_mb + p.kv_mb + p.compute_mb
    )
    assert "n_ctx 1024" in p.breakdown() and p.as_info()["n_ctx"] == 1024


def test_alternatives_and_verdict() -> None:
    big = {
        **TINY,
        "llama.block_count": 32,
        "llama.attention.head_count_kv": 4,
    }  # 16 x 4 x 2 x 32 ... per token
    h = _header(big, tensor_bytes=40_000_000, params=80_000_000)  # 4 bits per weight
    per_tok = kv_bytes_per_token(h)
    assert per_tok == 32 * 4 * (16 * 2 + 16 * 2)
    p = predict(h, 8192)
    budget = predict(h, 2048).ram_mb + 0.01  # 2048 fits, 4096 does not
    assert largest_context(h, budget, 8192) == 2048
    assert largest_context(h, 1.0, 8192) is None
    assert largest_context(h, 10_000, 1024) == 512  # always below the asked context
    # 4 bits a weight now: only Q3_K_M (3.91) is smaller; it fits when the budget allows its weights
    need = p.ram_mb - p.weights_mb + 80_000_000 * 3.91 / 8 / MB
    assert smaller_quant(h, need + 0.01, 8192) == ("Q3_K_M", pytest.approx(need))
    assert smaller_quant(h, need - 0.01, 8192) is None
    verdict = will_not_fit(h, p, budget, "--max-memory-mb budget")
    assert verdict is not None
    message, steps = verdict
    assert (
        f"predicted {p.total_mb:.0f} MB" in message
        and f"over the {budget:.0f} MB --max-memory-mb budget" in message
    )
    assert "options.n_ctx 2048 would need" in steps and "--force" in steps
    assert will_not_fit(h, p, p.ram_mb, "x") is None  # exactly at the budget fits


@pytest.mark.skipif(not embedded.is_ready(SMOL), reason="the embedded model file is not here")
def test_header_matches_the_gguf_library() -> None:
    gguf = pytest.importorskip("gguf")
    path = embedded.model_path(SMOL)
    h = read_header(path)
    r = gguf.GGUFReader(path)
    assert h.data_offset == r.data_offset
    assert h.tensor_bytes == sum(int(t.n_bytes) for t in r.tensors)
    assert h.parameters == sum(int(t.n_elements) for t in r.tensors)
    assert len(h.tensors) == len(r.tensors)
    for key in ("block_count", "embedding_length", "attention.head_count", "attention.head_count_kv"):
        field = r.fields[f"llama.{key}"]
        assert h.get(key) == int(field.parts[field.data[0]][0])
    assert h.metadata["tokenizer.ggml.tokens"] == ArrayLen(8, len(r.fields["tokenizer.ggml.tokens"].data))


def test_not_a_gguf_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "x.gguf"
    bad.write_bytes(b"PK\x03\x04" + b"\0" * 40)
    with pytest.raises(ModelError, match="not a GGUF file"):
        read_header(bad)
    short = tmp_path / "short.gguf"
    short.write_bytes(b"GGUF" + struct.pack("<IQQ", 3, 0, 1) + struct.pack("<Q", 500) + b"abc")
    with pytest.raises(ModelError, match="runs past the end"):
        read_header(short)
