"""evolve: AlphaEvolve-style evolutionary program search."""

__version__ = "0.1.0"
