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
    MemoryPrediction,
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


def test_the_summary_keeps_every_part_rounded() -> None:
    p = MemoryPrediction(
        weights_mb=10.24, kv_mb=2.26, compute_mb=0.55, overhead_mb=5.21, n_ctx=512, vram_mb=1.44
    )
    # total 18.26, RAM 16.82; each part to 0.1 MB (none of them a whole number)
    info = p.as_info()
    assert info == {
        "total_mb": 18.3,
        "ram_mb": 16.8,
        "vram_mb": 1.4,
        "weights_mb": 10.2,
        "kv_mb": 2.3,
        "compute_mb": 0.6,
        "overhead_mb": 5.2,
        "n_ctx": 512,
    }
    assert all(isinstance(v, float) for k, v in info.items() if k != "n_ctx")
    assert p.breakdown() == "18 MB (weights 10 + KV cache 2 for n_ctx 512 + compute 1 + vocabulary 5)"


def test_a_header_missing_sizes_predicts_from_what_it_has() -> None:
    # no embedding length, feed-forward length or head count: zeros and one head
    bare = {"llama.block_count": 2, "llama.attention.key_length": 8, "llama.attention.head_count_kv": 2}
    h = _header(bare)
    assert kv_bytes_per_token(h) == 2 * 2 * (8 * 2 + 8 * 2)
    # nothing to size a key by (no embedding length, no key length): no cache, not a made-up one
    assert kv_bytes_per_token(_header({"llama.block_count": 2, "llama.attention.head_count": 1})) == 0
    p = predict(h, 1024)
    # micro-batch 512: 512 x 4 x (3 x 0 + 4 x 0) = 0; scores 512 x 512 x 1 head x 4 bytes
    assert p.compute_mb == pytest.approx(512 * 512 * 4 / MB)
    # empty per-layer lists: no feed-forward, one head
    empty = {**TINY, "llama.feed_forward_length": [], "llama.attention.head_count": []}
    assert predict(_header(empty), 256).compute_mb == pytest.approx(
        (256 * 4 * (4 * 64) + 256 * 256 * 1 * 4) / MB
    )
    # one layer: only the first entry of a per-layer list counts
    one = {**TINY, "llama.block_count": 1, "llama.feed_forward_length": [100, 500],
           "llama.attention.head_count": [2, 8]}  # fmt: skip
    assert predict(_header(one), 256).compute_mb == pytest.approx(
        (256 * 4 * (3 * 100 + 4 * 64) + 256 * 256 * 2 * 4) / MB
    )
    # a per-layer kv head list shorter than the layers: the layers it names (3 heads x 64 bytes)
    assert kv_bytes_per_token(_header({**TINY, "llama.attention.head_count_kv": [3]})) == 3 * 64


def test_missing_header_values_take_llama_cpp_defaults() -> None:
    # no kv head count: as many as the attention heads (4): 2 layers x 4 x (16 x 2 + 16 x 2) = 512
    no_kv = {k: v for k, v in TINY.items() if k != "llama.attention.head_count_kv"}
    assert kv_bytes_per_token(_header(no_kv)) == 512
    # a key length alone: the value length follows it: 2 x 2 x (8 x 2 + 8 x 2) = 128
    assert kv_bytes_per_token(_header({**TINY, "llama.attention.key_length": 8})) == 128
    # no head count at all: one head, so the key is the whole embedding: 2 x 2 x (64 x 2 + 64 x 2)
    no_heads = {k: v for k, v in TINY.items() if k != "llama.attention.head_count"}
    assert kv_bytes_per_token(_header(no_heads)) == 1024
    # a zero head count does not divide by zero (one head's key length)
    assert kv_bytes_per_token(_header({**TINY, "llama.attention.head_count": 0})) == 1024
    # no layers: no cache; a per-layer list longer than the layers is cut to them
    no_layers = {k: v for k, v in TINY.items() if k != "llama.block_count"}
    assert kv_bytes_per_token(_header(no_layers)) == 0
    assert kv_bytes_per_token(_header({**TINY, "llama.attention.head_count_kv": [1, 3, 50]})) == 4 * 64
    # quantized value cache: q4_0 is 18 bytes a block of 32: 2 x 2 x (16 x 2 + 16 x 18 / 32) = 164
    assert kv_bytes_per_token(_header(TINY), "f16", "q4_0") == 164
    assert kv_bytes_per_token(_header(TINY), "f32", "f32") == 512


def test_prediction_reads_lists_vocabularies_and_settings() -> None:
    # per-layer feed-forward and head lists: the largest layer sets the compute buffer
    meta = {
        **TINY,
        "llama.feed_forward_length": [100, 128],
        "llama.attention.head_count": [2, 4],
        "llama.attention.head_count_kv": [2, 2],
        "tokenizer.ggml.tokens": [b"a", b"b", b"c"],
        "tokenizer.ggml.merges": ArrayLen(8, 7),
    }
    p = predict(_header(meta), 1024, n_ubatch=128)
    # 128 x 4 x (3 x 128 + 4 x 64) = 327,680; scores 128 x 128 x 4 heads x 4 = 262,144
    assert p.compute_mb == pytest.approx((327_680 + 262_144) / MB)
    assert p.overhead_mb == pytest.approx(5 + 150 * (3 + 7) / MB)  # a list counts its items too
    # no vocabulary at all: the base alone
    bare = {k: v for k, v in TINY.items() if not k.startswith("tokenizer")}
    assert predict(_header(bare), 1024).overhead_mb == 5.0
    assert predict(_header({**TINY, "tokenizer.ggml.tokens": "odd"}), 1024).overhead_mb == 5.0
    # the cache types reach the KV part: q8_0 keys and values, 2 x 2 x (16 x 34/32 x 2) = 136 a token
    assert predict(_header(TINY), 1000, type_k="q8_0", type_v="q8_0").kv_mb == pytest.approx(1000 * 136 / MB)
    # more GPU layers than the model has: all of it; no layers at all: nothing offloaded
    full = predict(_header(TINY), 1024)
    over = predict(_header(TINY), 1024, n_gpu_layers=99)
    assert over.vram_mb == pytest.approx(full.weights_mb + full.kv_mb + full.compute_mb)
    no_layers = {k: v for k, v in TINY.items() if k != "llama.block_count"}
    assert predict(_header(no_layers), 1024, n_gpu_layers=-1).vram_mb == 0.0
    assert predict(_header(TINY), 1024, n_gpu_layers=0).vram_mb == 0.0


def test_context_and_quant_alternatives_at_their_edges() -> None:
    h = _header(TINY)
    roomy = 10_000.0
    assert largest_context(h, roomy, 3000) == 2048  # the largest power of two under the asked one
    assert largest_context(h, roomy, 2049) == 2048
    assert largest_context(h, roomy, 257) == 256
    assert largest_context(h, roomy, 256) is None  # nothing below 256 is offered
    exact = predict(h, 512).ram_mb
    assert largest_context(h, exact, 1024) == 512  # a budget met exactly fits
    assert largest_context(h, exact - 1e-9, 1024) == 256
    # bits per weight now: 8 x 10e6 / 20e6 = 4.0: Q3_K_M (3.91) is the only smaller one
    need = predict(h, 1024).ram_mb - 10.0 + 20_000_000 * 3.91 / 8 / MB
    assert smaller_quant(h, need, 1024) == ("Q3_K_M", pytest.approx(need))  # met exactly
    # weights at exactly Q3_K_M's 3.91 bits: nothing is smaller
    same = _header(TINY, tensor_bytes=int(20_000_000 * 3.91 / 8), params=20_000_000)
    assert smaller_quant(same, roomy, 1024) is None
    # 16-bit weights: Q8_0 first, the largest that fits
    wide = _header(TINY, tensor_bytes=40_000_000, params=20_000_000)
    q8 = predict(wide, 1024).ram_mb - 40.0 + 20_000_000 * 8.5 / 8 / MB
    assert smaller_quant(wide, roomy, 1024) == ("Q8_0", pytest.approx(q8))
    q6 = predict(wide, 1024).ram_mb - 40.0 + 20_000_000 * 6.56 / 8 / MB
    assert smaller_quant(wide, q8 - 0.01, 1024) == ("Q6_K", pytest.approx(q6))
    # one parameter in two bytes: 16 bits a weight, so Q8_0 is the first smaller one
    single = _header(TINY, tensor_bytes=2, params=1)
    assert smaller_quant(single, roomy, 1024) == (
        "Q8_0",
        pytest.approx(predict(single, 1024).ram_mb + 8.5 / 8 / MB - 2 / MB),
    )
    # the settings reach the prediction the quantization starts from (flash attention: no scores)
    flash = smaller_quant(h, roomy, 1024, flash_attn=True)
    assert flash is not None and flash[1] == pytest.approx(
        predict(h, 1024, flash_attn=True).ram_mb - 10.0 + 20_000_000 * 3.91 / 8 / MB
    )
    # a header with no tensors does not divide by zero
    empty = GgufHeader(Path("x.gguf"), 3, {"general.architecture": "llama", **TINY}, (), 64, 64)
    assert smaller_quant(empty, roomy, 1024) is None


def test_the_refusal_lists_every_next_step() -> None:
    h = _header(TINY)
    p = predict(h, 4096)
    budget = predict(h, 1024).ram_mb + 0.001
    quant_need = p.ram_mb - 10.0 + 20_000_000 * 3.91 / 8 / MB
    verdict = will_not_fit(h, p, max(budget, quant_need), "free RAM")
    assert verdict is not None
    message, steps = verdict
    assert (
        message
        == f"will not fit: predicted {p.breakdown()} is over the {max(budget, quant_need):.0f} MB free RAM"
    )
    ctx = largest_context(h, max(budget, quant_need), 4096)
    assert ctx is not None
    assert steps == (
        f"options.n_ctx {ctx} would need {predict(h, ctx).ram_mb:.0f} MB; "
        f"a Q3_K_M variant of these weights would need about {quant_need:.0f} MB; "
        "stop other models or programs to free memory; --force loads it anyway"
    )
    # nothing smaller would fit: only the last two steps
    tiny_budget = will_not_fit(h, p, 1.0, "free RAM")
    assert tiny_budget is not None
    assert tiny_budget[1] == "stop other models or programs to free memory; --force loads it anyway"
    # the settings reach the alternatives: flash attention makes 2048 fit where it did not
    flash_budget = predict(h, 2048, flash_attn=True).ram_mb
    flash = will_not_fit(h, predict(h, 4096, flash_attn=True), flash_budget, "x", flash_attn=True)
    assert flash is not None and flash[1].startswith(f"options.n_ctx 2048 would need {flash_budget:.0f} MB;")
    # and the quantization: with flash attention a Q3_K_M of it fits a budget it would not without
    fp = predict(h, 4096, flash_attn=True)
    q_need = fp.ram_mb - 10.0 + 20_000_000 * 3.91 / 8 / MB
    assert q_need + 0.01 < fp.ram_mb
    with_quant = will_not_fit(h, fp, q_need + 0.01, "x", flash_attn=True)
    assert (
        with_quant is not None
        and f"a Q3_K_M variant of these weights would need about {q_need:.0f} MB" in with_quant[1]
    )
