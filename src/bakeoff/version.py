"""The version of this bakeoff, stamped into every report and request header."""

__version__ = "0.1.0"
