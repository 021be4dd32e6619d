"""Corpus-level views of a model's layers, headless: reading a corpus, and how contextual each layer is.

No Textual and no torch here: the vectors come from :meth:`mlm_tui.engine.MaskedLM.hidden_states`.
"""
