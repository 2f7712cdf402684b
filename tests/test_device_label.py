"""The device a llama.cpp model ran on is read from the engine, never taken from the option asked
(issue 32's "a CPU run labelled GPU"; issue 27). Pure logic here; the real CPU build is checked in
test_realmodel.py."""

from __future__ import annotations

from bakeoff.backends.llamacpp import built_backends, device_facts

CUDA_INFO = "CUDA : ARCHS = 890 | USE_GRAPHS = 1 | PEER_MAX_BATCH_SIZE = 128 | CPU : SSE3 = 1 | AVX = 1 | "


def test_the_build_is_read_from_the_system_info() -> None:
    assert built_backends("CPU : SSE3 = 1 | AVX2 = 1 | LLAMAFILE = 1 | ") == ["CPU"]
    assert built_backends(CUDA_INFO) == ["CUDA", "CPU"]
    assert built_backends("Metal : EMBED_LIBRARY = 1 | CPU : NEON = 1 | ") == ["Metal", "CPU"]
    assert built_backends("") == []


def test_asked_layers_on_a_cpu_build_ran_on_the_cpu() -> None:
    f = device_facts(99, False, 30, ["CPU"])
    assert (f["device"], f["gpu_layers_offloaded"], f["engine_build"]) == ("cpu", 0, "CPU")
    assert f["device_warning"].startswith("n_gpu_layers=99 was asked, but this llama-cpp-python build")
    assert "ran on the CPU" in f["device_warning"] and "GGML_CUDA" in f["device_warning"]
    assert "device_warning" not in device_facts(0, False, 30, ["CPU"])


def test_offloaded_layers_are_capped_at_the_model_and_named() -> None:
    # a 30-layer model has 31 offloadable layers (the output layer too): 99 and -1 both mean all of them
    assert device_facts(99, True, 30, ["CUDA", "CPU"])["gpu_layers_offloaded"] == 31
    assert device_facts(-1, True, 30, ["CUDA", "CPU"])["device"] == "gpu (CUDA)"
    part = device_facts(10, True, 30, ["CUDA", "CPU"])
    assert (part["device"], part["gpu_layers_offloaded"]) == ("gpu (CUDA), 10 of 31 layers", 10)
    assert device_facts(0, True, 30, ["CUDA", "CPU"])["device"] == "cpu"
    assert "device_warning" not in part
