"""The views of a pane's table, one module each (see :mod:`.base` for their common shape)."""

from .attention import AttentionView
from .base import Shown, View
from .fills import FillsView
from .lens import GridView, LensView
from .neighbours import Context, NeighboursView
from .predictions import PredictionsView
from .salience import SalienceView
from .similarity import SimilarityView
from .surprisal import SurprisalView
from .unmasked import UnmaskedView

__all__ = [
    "AttentionView",
    "Context",
    "FillsView",
    "GridView",
    "LensView",
    "NeighboursView",
    "PredictionsView",
    "SalienceView",
    "Shown",
    "SimilarityView",
    "SurprisalView",
    "UnmaskedView",
    "View",
]
