"""``python -m bakeoff.cli``: the same as the ``bakeoff`` command."""

from . import main

main()
