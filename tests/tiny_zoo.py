"""A tiny random model of every masked-LM type transformers knows, each with its own kind of tokenizer.

:func:`save_tiny` builds one from ``MODEL_FOR_MASKED_LM_MAPPING_NAMES``: the type's
config shrunk to a hidden size of 32 and 2 layers (nested ``text_config`` too),
and a tokenizer of the class the type uses in transformers, built from a small
vocabulary (WordPiece, byte-level BPE, Unigram, XLM's BPE files, ESM's residues,
Perceiver's bytes). A type this module does not know still gets a model and a
WordPiece tokenizer, so a new type in a later transformers is tested too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from tiny_models import CORPUS, bert_vocab

SMALL = {
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 2,
    "num_key_value_heads": 2,
    "head_dim": 16,
    "intermediate_size": 64,
    "max_position_embeddings": 64,
    "embedding_size": 16,
    "dim": 32,
    "n_layers": 2,
    "n_heads": 2,
    "hidden_dim": 64,
    "emb_dim": 32,
    "d_model": 32,
    "encoder_layers": 2,
    "decoder_layers": 1,
    "encoder_attention_heads": 2,
    "decoder_attention_heads": 2,
    "encoder_ffn_dim": 64,
    "decoder_ffn_dim": 64,
    "initializer_range": 0.2,
}
"""Sizes every type understands under one name or another; only the names a config has are set."""

EXTRA: dict[str, dict[str, Any]] = {
    "big_bird": {"block_size": 4, "num_random_blocks": 2},
    "funnel": {
        "block_sizes": [1, 1],
        "block_repeats": [1, 1],
        "n_head": 2,
        "d_head": 16,
        "d_inner": 64,
        "num_decoder_layers": 1,
    },
    "mobilebert": {"intra_bottleneck_size": 16, "true_hidden_size": 16, "num_feedforward_networks": 1},
    "reformer": {
        "attn_layers": ["local", "local"],
        "axial_pos_shape": [8, 8],
        "axial_pos_embds_dim": [16, 16],
        "attention_head_size": 16,
        "feed_forward_size": 64,
        "local_attn_chunk_length": 8,
        "is_decoder": False,
    },
    "perceiver": {
        "d_latents": 32,
        "num_latents": 8,
        "num_blocks": 1,
        "num_self_attends_per_block": 1,
        "num_self_attention_heads": 2,
        "num_cross_attention_heads": 2,
    },
    "rembert": {"input_embedding_size": 16, "output_embedding_size": 16},
    "roc_bert": {"pronunciation_embed_dim": 16, "shape_embed_dim": 16},
    "luke": {"entity_vocab_size": 8, "entity_emb_size": 16},
    "neomme": {"embedding_rank": 16},
    "ultrabert": {"prediction_head_size": 16},
    "nystromformer": {"num_landmarks": 64, "segment_means_seq_len": 64, "conv_kernel_size": 3},
    "modernbert": {"local_attention": 16, "global_attn_every_n_layers": 1},
    "esm": {"position_embedding_type": "rotary", "emb_layer_norm_before": False, "token_dropout": True},
    "xmod": {"default_language": "en_XX"},
    "longformer": {"attention_window": 8},  # 512 pads every text to 512 tokens: slow for a test
    "squeezebert": {
        "embedding_size": 32,
        "q_groups": 2,
        "k_groups": 2,
        "v_groups": 2,
        "post_attention_groups": 2,
    },
}
"""What a type needs beyond :data:`SMALL` to be small and consistent."""

AMINO_ACIDS = "LAGVSERTIDPKQNFYMHWC"
ESM_VOCAB = ["<cls>", "<pad>", "<eos>", "<unk>", *AMINO_ACIDS, "X", "B", "U", "Z", "O", ".", "-"]
ESM_VOCAB += ["<null_1>", "<mask>"]


def masked_lm_types() -> list[str]:
    from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING_NAMES

    return list(MODEL_FOR_MASKED_LM_MAPPING_NAMES)


def tokenizer_class_name(model_type: str) -> str | None:
    from transformers.models.auto.tokenization_auto import TOKENIZER_MAPPING_NAMES

    return TOKENIZER_MAPPING_NAMES.get(model_type)


# ---------------------------------------------------------------- tokenizers


def _specials(cls: Any) -> dict[str, str]:
    """The special tokens a tokenizer class uses by default (its ``*_token`` arguments)."""
    import inspect

    found = {}
    for name, parameter in inspect.signature(cls.__init__).parameters.items():
        default = parameter.default
        if name.endswith("_token") and isinstance(default, str):
            found[name] = default
        elif name.endswith("_token") and hasattr(default, "content"):
            found[name] = default.content
    return found


def _words() -> list[str]:
    return sorted({w for s in CORPUS for w in re.findall(r"[A-Za-z]+", s)})


def _wordpiece(cls: Any, path: Path) -> Any:
    specials = list(dict.fromkeys(_specials(cls).values()))
    vocab = specials + [t for t in bert_vocab() if t not in specials and not t.startswith("[")]
    return cls(vocab={w: i for i, w in enumerate(vocab)})


def _bpe(cls: Any, path: Path, **extra: Any) -> Any:
    from tokenizers import ByteLevelBPETokenizer

    specials = list(dict.fromkeys(["<s>", "<pad>", "</s>", "<unk>", *_specials(cls).values(), "<mask>"]))
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 3, vocab_size=400, min_frequency=1, special_tokens=specials)
    model = json.loads(bpe.to_str())["model"]
    merges = [tuple(m.split()) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    return cls(vocab=model["vocab"], merges=merges, **extra)


def _unigram(cls: Any, path: Path) -> Any:
    specials = list(dict.fromkeys(["<pad>", "<unk>", "<s>", "</s>", *_specials(cls).values(), "<mask>"]))
    pieces = ["▁" + w.lower() for w in _words()] + ["▁" + c for c in "abcdefghijklmnopqrstuvwxyz"]
    pieces += list("abcdefghijklmnopqrstuvwxyz.,!?'-") + ["▁"]
    vocab = [(s, 0.0) for s in specials] + [(p, -1.0 - i / 100) for i, p in enumerate(dict.fromkeys(pieces))]
    try:
        return cls(vocab=vocab)
    except TypeError:
        return cls(vocab=vocab, merges=[])


def _xlm(cls: Any, path: Path) -> Any:
    specials = ["<s>", "</s>", "<pad>", "<unk>", "<special0>", "<special1>", "<special2>", "<special3>"]
    specials += ["<special4>", "<special5>", "<special6>", "<special7>", "<special8>", "<special9>"]
    words = [w.lower() + "</w>" for w in _words()] + [c + "</w>" for c in "abcdefghijklmnopqrstuvwxyz.,!?"]
    vocab = {t: i for i, t in enumerate(dict.fromkeys(specials + list("abcdefghijklmnopqrstuvwxyz") + words))}
    (path / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    (path / "merges.txt").write_text("", encoding="utf-8")
    return cls(vocab_file=str(path / "vocab.json"), merges_file=str(path / "merges.txt"))


def _esm(cls: Any, path: Path) -> Any:
    (path / "vocab.txt").write_text("\n".join(ESM_VOCAB) + "\n", encoding="utf-8")
    return cls(vocab_file=str(path / "vocab.txt"))


def _vocab_file(cls: Any, path: Path) -> Any:
    vocab = bert_vocab() + ["[EMPTY]"]
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    return cls(vocab_file=str(path / "vocab.txt"))


def _roc_bert(cls: Any, path: Path) -> Any:
    vocab = bert_vocab()
    (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    table = {w: i % 7 for i, w in enumerate(vocab)}
    (path / "word_shape.json").write_text(json.dumps(table), encoding="utf-8")
    (path / "word_pronunciation.json").write_text(json.dumps(table), encoding="utf-8")
    return cls(
        vocab_file=str(path / "vocab.txt"),
        word_shape_file=str(path / "word_shape.json"),
        word_pronunciation_file=str(path / "word_pronunciation.json"),
    )


class _Unbuilt:
    """Stands for a tokenizer whose optional package is missing: its files are written, nothing runs."""

    def __init__(self, size: int, **ids: int) -> None:
        self.size = size
        for key, value in ids.items():
            setattr(self, key, value)

    def __len__(self) -> int:
        return self.size


def _write_unbuilt(name: str, path: Path) -> _Unbuilt:
    """The files of tokenizer class ``name`` written by hand, as a checkpoint ships them."""
    if name in ("XLMTokenizer", "FlaubertTokenizer"):
        vocab = ["<s>", "</s>", "<pad>", "<unk>"] + [f"<special{i}>" for i in range(10)]
        vocab += [w.lower() + "</w>" for w in _words()] + list("abcdefghijklmnopqrstuvwxyz")
        (path / "vocab.json").write_text(json.dumps({w: i for i, w in enumerate(vocab)}), encoding="utf-8")
        (path / "merges.txt").write_text("", encoding="utf-8")
        ids = {"pad_token_id": 2, "bos_token_id": 0, "eos_token_id": 1}
    else:  # WordPiece (RoFormer)
        vocab = bert_vocab()
        (path / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
        ids = {"pad_token_id": 0}
    (path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": name}), encoding="utf-8")
    return _Unbuilt(len(vocab), **ids)


def save_tokenizer(model_type: str, path: Path) -> Any:
    """Save a tokenizer of the class ``model_type`` uses; return it (as AutoTokenizer reads it back).

    When the class needs an optional package that is not installed (sacremoses, rjieba), its
    files are written by hand and a stand-in with its size and ids is returned.
    """

    name = tokenizer_class_name(model_type)
    try:
        return _save_tokenizer(model_type, name, path)
    except ImportError:
        return _write_unbuilt(name or "", path)


def _save_tokenizer(model_type: str, name: str | None, path: Path) -> Any:
    import transformers as tf

    cls = getattr(tf, name, None) if name and name != "TokenizersBackend" else None
    if model_type == "esm":
        tok = _esm(cls, path)
    elif model_type == "perceiver":
        tok = cls()
    elif model_type == "roc_bert":
        tok = _roc_bert(cls, path)
    elif name in ("XLMTokenizer", "FlaubertTokenizer"):
        tok = _xlm(cls, path)
    elif name == "TapasTokenizer":
        tok = _vocab_file(cls, path)
    elif name == "EsmcTokenizer":
        tok = cls()
    elif cls is None:  # the type names no tokenizer: its checkpoints ship a tokenizer.json
        tok = _wordpiece(tf.BertTokenizer, path)
    elif name == "ReformerTokenizer":
        pieces = ["<unk>", "</s>", "<pad>", "<mask>", "▁", *"abcdefghijklmnopqrstuvwxyzTPHIMS.,!?'-"]
        tok = cls(
            vocab={p: i for i, p in enumerate(dict.fromkeys(pieces))},
            merges=[],
            pad_token="<pad>",
            mask_token="<mask>",
        )
    elif "merges" in _parameters(cls) and "vocab" in _parameters(cls):
        tok = _bpe(
            cls,
            path,
            **(
                {"entity_vocab": {"[PAD]": 0, "[UNK]": 1, "[MASK]": 2, "[MASK2]": 3}}
                if name == "LukeTokenizer"
                else {}
            ),
        )
    elif name in (
        "BertTokenizer",
        "FunnelTokenizer",
        "MPNetTokenizer",
        "MobileBertTokenizer",
        "RoFormerTokenizer",
    ):
        tok = _wordpiece(cls, path)
    else:
        tok = _unigram(cls, path)
    tok.save_pretrained(path)
    return tf.AutoTokenizer.from_pretrained(path)


def _parameters(cls: Any) -> list[str]:
    import inspect

    return list(inspect.signature(cls.__init__).parameters)


# ---------------------------------------------------------------- models


def _small_fields(fields: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    """The keyword arguments that make a config of these default ``fields`` tiny (nested configs too)."""
    small = {k: v for k, v in SMALL.items() if k in fields}
    small.update(extra)
    layers = small.get("num_hidden_layers", fields.get("num_hidden_layers"))
    types = fields.get("layer_types")
    if isinstance(types, list) and layers:
        small["layer_types"] = types[: layers - 1] + [
            types[-1] if "full_attention" not in types else "full_attention"
        ]
    for key, value in fields.items():
        if isinstance(value, dict) and "model_type" in value:
            small[key] = {**value, **_small_fields(value, {})}
    return small


def _set_ids(small: dict[str, Any], fields: dict[str, Any], tokenizer: Any, size: int) -> None:
    """Vocabulary size and special ids from the tokenizer, where the config (or its text part) has them."""
    pairs = [(small, fields)]
    if isinstance(fields.get("text_config"), dict):
        pairs.append((small["text_config"], fields["text_config"]))
    for target, known in pairs:
        if "vocab_size" in known:
            target["vocab_size"] = size
        for name in ("pad_token_id", "bos_token_id", "eos_token_id", "mask_token_id"):
            value = getattr(tokenizer, name, None)
            if value is not None and name in known:
                target[name] = value


def save_tiny(path: Path, model_type: str, *, seed: int = 0) -> Path:
    """A tiny random ``model_type`` masked LM with its kind of tokenizer, saved in ``path`` (safetensors)."""
    import torch
    import transformers
    from transformers import CONFIG_MAPPING, AutoModelForMaskedLM

    transformers.logging.disable_progress_bar()
    path.mkdir(parents=True, exist_ok=True)
    tokenizer = save_tokenizer(model_type, path)
    config_class = CONFIG_MAPPING[model_type]
    fields = config_class().to_dict()
    small = _small_fields(fields, EXTRA.get(model_type, {}))
    _set_ids(small, fields, tokenizer, len(tokenizer))
    config = config_class(**small)
    torch.manual_seed(seed)
    model = AutoModelForMaskedLM.from_config(config)
    model.save_pretrained(path)
    return path
