"""Where model files come from: the embedded GGUF models, the imported-model registry, catalog
entries and conversion to GGUF / ONNX."""
