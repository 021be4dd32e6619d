"""mlm-tui: a keyboard-driven terminal explorer for masked language models."""

__version__ = "0.1.0"
