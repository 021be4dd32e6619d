"""Tiny, randomly initialised masked LMs with real tokenizers, saved as local model folders.

They predict nonsense, but they exercise the exact code paths of real models,
load in well under a second, and need no network.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

CORPUS = [
    "Paris is the capital of France.",
    "The keys to the cabinet are on the table.",
    "The keys to the cabinet is on the table.",
    "Transformers are a state-of-the-art technique in natural language processing.",
    "I drink a cup of coffee every morning with my dog.",
    "Monday comes after Sunday and before Tuesday.",
    "The cat sat on the mat near the door of the house.",
    "She went to the market to buy bread, milk and apples.",
    "Hello world! The weather is nice today in Berlin and London.",
    "He is a doctor and she is a nurse at the hospital.",
]

LETTERS = "abcdefghijklmnopqrstuvwxyz"
PUNCT = list(".,!?;:'\"-()[]")


def bert_vocab() -> list[str]:
    words = sorted({w for s in CORPUS for w in re.findall(r"[a-z]+", s.lower())})
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    pieces = ["##" + c for c in LETTERS] + ["##s", "##ing", "##ed", "##er"]
    # "pizza" and "nurse" spelled with several pieces on purpose: no whole-word entries.
    words = [w for w in words if w not in {"nurse"}]
    vocab = specials + PUNCT + list(LETTERS) + words + ["##urse", "##izza"] + pieces
    return list(dict.fromkeys(vocab))


def save_bert(path: Path, *, seed: int = 0, model_type: str = "bert") -> Path:
    import torch
    from transformers import AutoTokenizer, BertTokenizer

    path.mkdir(parents=True, exist_ok=True)
    vocab = bert_vocab()
    tok = BertTokenizer(vocab={w: i for i, w in enumerate(vocab)})
    tok.save_pretrained(path)
    tok = AutoTokenizer.from_pretrained(path)
    torch.manual_seed(seed)
    model = _model(model_type, len(vocab), pad_token_id=0)
    model.save_pretrained(path)
    return path


def save_roberta(path: Path, *, seed: int = 1, model_type: str = "roberta") -> Path:
    import torch
    from tokenizers import AddedToken, ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    path.mkdir(parents=True, exist_ok=True)
    specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(CORPUS * 3, vocab_size=400, min_frequency=1, special_tokens=specials)
    raw = path / "bpe"
    raw.mkdir(exist_ok=True)
    bpe.save_model(str(raw))
    vocab = json.loads((raw / "vocab.json").read_text())
    merges = [tuple(line.split()) for line in (raw / "merges.txt").read_text().splitlines()[1:] if line]
    tok = RobertaTokenizer(vocab=vocab, merges=merges, mask_token=AddedToken("<mask>", lstrip=True))
    tok.save_pretrained(path)
    for f in raw.iterdir():
        f.unlink()
    raw.rmdir()
    torch.manual_seed(seed)
    model = _model(model_type, len(vocab), pad_token_id=1, bos_token_id=0, eos_token_id=2)
    model.save_pretrained(path)
    return path


def _model(model_type: str, vocab_size: int, **ids):
    import transformers as tf

    small = dict(vocab_size=vocab_size, max_position_embeddings=64, initializer_range=0.2, **ids)
    if model_type == "bert":
        config = tf.BertConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **small
        )
        return tf.BertForMaskedLM(config)
    if model_type == "roberta":
        config = tf.RobertaConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **small
        )
        config.max_position_embeddings = 66
        return tf.RobertaForMaskedLM(config)
    if model_type == "xlm-roberta":
        config = tf.XLMRobertaConfig(
            hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64, **small
        )
        config.max_position_embeddings = 66
        return tf.XLMRobertaForMaskedLM(config)
    if model_type == "distilbert":
        config = tf.DistilBertConfig(dim=32, n_layers=2, n_heads=2, hidden_dim=64, **small)
        return tf.DistilBertForMaskedLM(config)
    if model_type == "albert":
        config = tf.AlbertConfig(
            embedding_size=16,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            **small,
        )
        return tf.AlbertForMaskedLM(config)
    if model_type == "electra":
        config = tf.ElectraConfig(
            embedding_size=16,
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            **small,
        )
        return tf.ElectraForMaskedLM(config)
    if model_type == "modernbert":
        config = tf.ModernBertConfig(
            hidden_size=32,
            num_hidden_layers=2,
            num_attention_heads=2,
            intermediate_size=64,
            global_attn_every_n_layers=1,
            local_attention=16,
            **{k: v for k, v in small.items() if k != "initializer_range"},
        )
        return tf.ModernBertForMaskedLM(config)
    raise ValueError(model_type)
