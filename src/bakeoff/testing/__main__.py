"""``python -m bakeoff.testing --port 0 --plan '{...}'`` runs the fake OpenAI-compatible server."""

from bakeoff.testing.fake_server import main

main()
