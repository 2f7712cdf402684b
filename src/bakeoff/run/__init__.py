"""Running things end to end: the benchmark orchestration, the library API, the chat and the doctor."""
