"""Text in, cells out, and back: tokenize, display a piece, decode, substitute, spell a target.

Runs on the ``tokenizers`` library alone (the Rust tokenizer transformers wraps),
so the ONNX path imports neither torch nor transformers. Both backends use this
module: the PyTorch path builds it from transformers' tokenizer
(:meth:`TextCodec.from_transformers`), and the ONNX path from the same tokenizer
saved next to the exported graph (:meth:`TextCodec.from_files`), so the two
tokenize and decode identically.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import EngineError
from .types import Encoding, Token

MASK_ALIAS = "[MASK]"
"""Users may always type ``[MASK]``; it becomes the model's own mask token (``<mask>`` for RoBERTa)."""

TOKENIZER_FILE = "tokenizer.json"
TEXT_META_FILE = "text.json"


def vocab_digest(vocab: dict[str, int]) -> str:
    """A short hash of a vocabulary (token → id), to tell whether two models share one."""
    digest = hashlib.sha256()
    for token, index in sorted(vocab.items(), key=lambda item: item[1]):
        digest.update(f"{index}\t{token}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def check_characters(text: str) -> None:
    """Refuse text that is not valid Unicode (a lone surrogate, as a badly decoded paste or argv gives)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise EngineError(
            f"the text has a broken character at position {exc.start} ({text[exc.start]!r}, half of a "
            "UTF-16 pair, as a badly decoded paste gives); remove or retype it"
        ) from None


def _clean_up(text: str) -> str:
    """transformers' ``clean_up_tokenization``, for tokenizers that ask for it."""
    for before, after in (
        (" .", "."),
        (" ?", "?"),
        (" !", "!"),
        (" ,", ","),
        (" ' ", "'"),
        (" n't", "n't"),
        (" 'm", "'m"),
        (" 's", "'s"),
        (" 've", "'ve"),
        (" 're", "'re"),
    ):
        text = text.replace(before, after)
    return text


@dataclass(frozen=True)
class TextSettings:
    """What transformers' tokenizer adds to the Rust one; saved as JSON beside an exported graph."""

    mask_token: str
    mask_id: int
    pad_id: int | None
    clean_up: bool
    """Whether ``decode`` applies transformers' ``clean_up_tokenization`` (WordPiece models)."""
    takes_token_types: bool
    vocab_digest: str


class TextCodec:
    """One model's tokenizer: encode into cells, decode as the fill-mask pipeline decodes."""

    def __init__(self, tokenizer: Any, settings: TextSettings) -> None:
        # transformers turns the padding and truncation stored in tokenizer.json off for each call; so do we.
        tokenizer.no_padding()
        tokenizer.no_truncation()
        self.tokenizer = tokenizer
        """A ``tokenizers.Tokenizer``."""
        self.settings = settings
        self.mask_token = settings.mask_token
        self.mask_id = settings.mask_id
        self.pad_id = settings.pad_id
        self._wordpiece = type(tokenizer.model).__name__ == "WordPiece"
        # special tokens typed into the text ("[CLS]") are special too: not maskable, not scored
        # ([UNK] is not one of them: it stands for a real word the vocabulary lacks)
        unknown = {getattr(tokenizer.model, "unk_token", None), "[UNK]", "<unk>"}
        self._special_ids = {
            i
            for i, t in tokenizer.get_added_tokens_decoder().items()
            if t.special and i != self.mask_id and t.content not in unknown
        }

    @classmethod
    def from_transformers(cls, tokenizer: Any) -> TextCodec:
        """Wrap the Rust tokenizer inside a transformers fast tokenizer, with the settings it adds."""
        from tokenizers import Tokenizer

        backend = Tokenizer.from_str(tokenizer.backend_tokenizer.to_str())  # a copy: we change its settings
        bpe = type(backend.model).__name__ == "BPE"
        clean_up = bool(getattr(tokenizer, "clean_up_tokenization_spaces", False)) and (
            not bpe
            or bool(
                getattr(
                    tokenizer,
                    "clean_up_tokenization_spaces_for_bpe_even_though_it_will_corrupt_output",
                    False,
                )
            )
        )
        settings = TextSettings(
            mask_token=tokenizer.mask_token,
            mask_id=tokenizer.mask_token_id,
            pad_id=tokenizer.pad_token_id,
            clean_up=clean_up,
            takes_token_types="token_type_ids" in getattr(tokenizer, "model_input_names", ()),
            vocab_digest=vocab_digest(tokenizer.get_vocab()),
        )
        return cls(backend, settings)

    @classmethod
    def from_files(cls, folder: Path) -> TextCodec:
        """Read a codec saved by :meth:`save`; imports only ``tokenizers``."""
        from tokenizers import Tokenizer

        try:
            settings = TextSettings(**json.loads((folder / TEXT_META_FILE).read_text(encoding="utf-8")))
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # a damaged file in any way: the caller removes and rebuilds it
            raise EngineError(f"cannot read the saved tokenizer in {folder}: {exc}") from exc
        return cls(tokenizer, settings)

    def save(self, folder: Path) -> None:
        self.tokenizer.save(str(folder / TOKENIZER_FILE))
        (folder / TEXT_META_FILE).write_text(json.dumps(self.settings.__dict__), encoding="utf-8")

    # ------------------------------------------------------------------ text → cells

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` into cells. ``[MASK]`` is accepted as the model's mask token."""
        if not text.strip():
            raise EngineError("the text is empty")
        check_characters(text)
        if self.mask_token != MASK_ALIAS:
            text = text.replace(MASK_ALIAS, self.mask_token)
        enc = self.tokenizer.encode(text, add_special_tokens=True)
        tokens = []
        pieces = [self.id_to_piece(i) for i in enc.ids]
        for i, (tid, piece, (start, end), special, word) in enumerate(
            zip(enc.ids, pieces, enc.offsets, enc.special_tokens_mask, enc.word_ids, strict=True)
        ):
            is_mask = tid == self.mask_id
            special = (bool(special) or tid in self._special_ids) and not is_mask
            tokens.append(
                Token(
                    index=i,
                    id=tid,
                    text=piece,
                    display=piece if special or is_mask else self.display(piece),
                    start=start,
                    end=end,
                    word=None if special else word,
                    special=special,
                    is_mask=is_mask,
                )
            )
        if all(t.special for t in tokens):
            raise EngineError("the text has no tokens")
        return Encoding(text=text, tokens=tuple(tokens))

    def pieces(self, text: str) -> list[int]:
        """Ids of ``text`` without special tokens."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    # ------------------------------------------------------------------ cells → text

    def id_to_piece(self, token_id: int) -> str:
        return self.tokenizer.id_to_token(token_id) or ""

    def display(self, piece: str) -> str:
        """A token as a reader writes it: no ``##``, ``Ġ`` or ``▁`` marker."""
        decoder = self.tokenizer.decoder
        shown = decoder.decode([piece]) if decoder is not None else piece
        if piece.startswith("##") and shown.startswith("##"):
            shown = shown[2:]
        shown = shown.strip()
        return piece if not shown or "\ufffd" in shown else shown

    def decode(self, ids: list[int], *, skip_special: bool = False) -> str:
        """As transformers' ``tokenizer.decode`` (and so the pipeline) decodes."""
        text = self.tokenizer.decode(ids, skip_special_tokens=skip_special)
        return _clean_up(text) if self.settings.clean_up else text

    def token_str(self, token_id: int) -> str:
        return self.decode([token_id])

    def sequence(self, ids: list[int], *, skip_special: bool) -> str:
        """The pipeline's ``sequence``: the ids decoded, padding dropped."""
        return self.decode([i for i in ids if i != self.pad_id], skip_special=skip_special)

    def substitute(self, encoding: Encoding, position: int, token_id: int) -> tuple[str, int, int]:
        """Put token ``token_id`` in the text in place of the token at ``position``.

        Returns the new text and the character span of what was inserted. A
        continuation piece (``##ing``, or a BPE piece without a space marker) is
        glued to the word before it; a word-initial piece keeps a space before it.
        """
        if token_id in self._special_ids or token_id == self.mask_id:
            raise EngineError(
                f"{self.id_to_piece(token_id)} is a special token, not a word: it cannot go in the text"
            )
        token = encoding.tokens[position]
        text = encoding.text
        start, end = token.start, token.end
        while start < end and text[start].isspace():
            start += 1
        piece = self.id_to_piece(token_id)
        word = self.display(piece)
        if piece.startswith("##") or (not self._wordpiece and not piece.startswith(("Ġ", "▁"))):
            glued = start > 0 and text[start - 1].isspace() and (piece.startswith("##") or start != 0)
            while glued and start > 0 and text[start - 1].isspace():
                start -= 1
        elif piece.startswith(("Ġ", "▁")) and start > 0 and not text[start - 1].isspace():
            word = " " + word
        elif self._wordpiece and token.text.startswith("##") and self._spaced(piece):
            word = " " + word  # a word in place of a piece of one starts a word, as decode writes it
        new_text = text[:start] + word + text[end:]
        return new_text, start, start + len(word)

    def _spaced(self, piece: str) -> bool:
        """Whether decoding writes a space between a word and ``piece`` (not before ``.`` or ``,``)."""
        decoder = self.tokenizer.decoder
        shown = decoder.decode(["a", piece]) if decoder is not None else f"a {piece}"
        if self.settings.clean_up:
            shown = _clean_up(shown)
        return shown[1:2].isspace()

    def target_pieces(self, encoding: Encoding, position: int, target: str) -> tuple[int, ...]:
        """The subword ids that spell ``target`` at ``position``, as the tokenizer would write it there."""
        token = encoding.tokens[position]
        text = encoding.text
        spaced = token.start > 0 and (text[token.start - 1].isspace() or text[token.start].isspace())
        check_characters(target)
        pieces = self.pieces((" " if spaced else "") + target.strip())
        if not pieces:
            raise EngineError(f"the target {target!r} has no tokens in this model's vocabulary")
        return tuple(pieces)
