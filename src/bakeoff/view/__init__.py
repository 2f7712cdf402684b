"""``bakeoff view``: every indexed run in a local web app (runs list, one run, compare, trends, rating)."""
