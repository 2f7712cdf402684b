"""What is sent: datasets, synthetic prompts by token length, tokenizers and the built-in suites."""
