"""``python -m bakeoff.testing --port 0 --plan '{...}'`` runs the fake OpenAI-compatible server."""

from .fake_server import main

main()
