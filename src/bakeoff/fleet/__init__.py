"""The fleet bake-off (``bakeoff fleet``): the same bake-off on every kind of machine a team ships to,
each Ray node running it on its own engines, one folder and one report. Ray is imported only by
``driver.py`` and ``node.py``, lazily: everything else in bakeoff works without it."""
