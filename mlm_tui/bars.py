"""Text bars for probabilities and surprisal, shared by the CLI tables and the app (no Textual here)."""

_EIGHTHS = " ▏▎▍▌▋▊▉"


def bar(fraction: float, width: int) -> str:
    """A horizontal bar of ``fraction`` × ``width`` cells, drawn in eighths of a cell."""
    cells = max(0.0, min(1.0, fraction)) * width
    full = int(cells)
    rest = _EIGHTHS[int((cells - full) * 8)] if full < width else ""
    return ("█" * full + rest).rstrip()
