"""omnirouter core: knows no platform."""

__version__ = "0.1.0"
