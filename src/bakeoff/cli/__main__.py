"""``python -m bakeoff.cli``: the same as the ``bakeoff`` command."""

from bakeoff.cli import main

main()
