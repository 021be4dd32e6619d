"""Text in, cells out, and back: tokenize, display a piece, decode, substitute, spell a target.

Runs on the ``tokenizers`` library alone (the Rust tokenizer transformers wraps),
so the ONNX path imports neither torch nor transformers. Both backends use this
module: the PyTorch path builds it from transformers' tokenizer
(:func:`codec_for`), and the ONNX path from the same tokenizer saved next to the
exported graph (:func:`codec_from_files`), so the two tokenize and decode identically.

A tokenizer with no Rust form (ESM's residues, XLM's and Tapas' Python tokenizers,
Perceiver's bytes, a custom pre-tokenizer that cannot be saved) is wrapped as it
is by :class:`PythonTextCodec`, behind the same interface; on ONNX it is read back
with transformers (no torch).
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
PYTHON_TOKENIZER_DIR = "tokenizer"
"""Where a tokenizer without a Rust form is saved beside an exported graph (with ``save_pretrained``)."""


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
    token_type_width: int = 0
    """Token types per token beyond one (Tapas gives 7 per token, all 0 for a text); 0 for one."""
    kind: str = "tokenizers"
    """``"tokenizers"`` (the Rust tokenizer, :class:`TextCodec`) or ``"python"`` (:class:`PythonTextCodec`)."""


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

        backend = Tokenizer.from_str(rust_tokenizer_json(tokenizer))  # a copy: we change its settings
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
        return cls(backend, _settings(tokenizer, clean_up=clean_up, kind="tokenizers"))

    @classmethod
    def from_files(cls, folder: Path) -> TextCodec:
        """Read a codec saved by :meth:`save`; imports only ``tokenizers``."""
        from tokenizers import Tokenizer

        try:
            settings = read_settings(folder)
            tokenizer = Tokenizer.from_file(str(folder / TOKENIZER_FILE))
        except Exception as exc:  # a damaged file in any way: the caller removes and rebuilds it
            raise EngineError(f"cannot read the saved tokenizer in {folder}: {exc}") from exc
        return cls(tokenizer, settings)

    def save(self, folder: Path) -> None:
        self.tokenizer.save(str(folder / TOKENIZER_FILE))
        self._save_settings(folder)

    def _save_settings(self, folder: Path) -> None:
        (folder / TEXT_META_FILE).write_text(json.dumps(self.settings.__dict__), encoding="utf-8")

    # ------------------------------------------------------------------ text → cells

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` into cells. ``[MASK]`` is accepted as the model's mask token."""
        if not text.strip():
            raise EngineError("the text is empty")
        check_characters(text)
        if self.mask_token != MASK_ALIAS:
            text = text.replace(MASK_ALIAS, self.mask_token)
        ids, offsets, specials, words = self._tokenize(text)
        tokens = []
        pieces = [self.id_to_piece(i) for i in ids]
        for i, (tid, piece, (start, end), special, word) in enumerate(
            zip(ids, pieces, offsets, specials, words, strict=True)
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

    def _tokenize(self, text: str) -> tuple[list[int], list[tuple[int, int]], list[int], list[int | None]]:
        """Ids, character spans, special-token flags and word indices of ``text`` with special tokens."""
        enc = self.tokenizer.encode(text, add_special_tokens=True)
        return enc.ids, enc.offsets, enc.special_tokens_mask, enc.word_ids

    def pieces(self, text: str) -> list[int]:
        """Ids of ``text`` without special tokens."""
        return list(self.tokenizer.encode(text, add_special_tokens=False).ids)

    def count_pieces(self, text: str, stop: int, step: int = 0) -> tuple[int, int]:
        """The pieces of ``text`` (no special tokens), counted a stretch of about ``step`` characters at a
        time, each cut at whitespace, until more than ``stop``: ``(count, characters read)``.

        What a huge text costs is one stretch, never the whole text, so a line of a million words is
        refused after a few thousand. Stretches end at whitespace, where the tokenizers split words,
        so their counts add up to the whole text's (a word longer than a stretch is cut inside). Each
        stretch ends before a run of whitespace, which byte-level BPE reads with the word after it.
        """
        step = step or 8 * stop
        count = start = 0
        while start < len(text) and count <= stop:
            end = min(start + step, len(text))
            if end < len(text):  # cut where a run of whitespace starts: it goes with the word after it
                cut = end
                while cut > start and not (text[cut].isspace() and not text[cut - 1].isspace()):
                    cut -= 1
                end = cut if cut > start else end
            count += len(self.pieces(text[start:end]))
            start = end
        return count, start

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


def _settings(tokenizer: Any, *, clean_up: bool, kind: str) -> TextSettings:
    return TextSettings(
        mask_token=tokenizer.mask_token,
        mask_id=tokenizer.mask_token_id,
        pad_id=tokenizer.pad_token_id,
        clean_up=clean_up,
        takes_token_types="token_type_ids" in getattr(tokenizer, "model_input_names", ()),
        vocab_digest=vocab_digest(tokenizer.get_vocab()),
        token_type_width=_token_type_width(tokenizer),
        kind=kind,
    )


def _token_type_width(tokenizer: Any) -> int:
    """How many token types the tokenizer gives each token, when it gives a list per token (Tapas); else 0."""
    try:
        types = tokenizer("a")["token_type_ids"]
    except Exception:  # no token types, or a tokenizer that wants more than a text
        return 0
    first = types[0] if isinstance(types, list) and types else None
    return len(first) if isinstance(first, list) else 0


def read_settings(folder: Path) -> TextSettings:
    return TextSettings(**json.loads((folder / TEXT_META_FILE).read_text(encoding="utf-8")))


def rust_tokenizer_json(tokenizer: Any) -> str:
    """transformers' tokenizer as a ``tokenizers`` JSON: its own Rust tokenizer, else one converted from it.

    Raises when it has none and none can be made (no converter for its class, or
    a custom pre-tokenizer that cannot be serialised, as RoFormer's jieba one).
    """
    backend = getattr(tokenizer, "backend_tokenizer", None) if getattr(tokenizer, "is_fast", False) else None
    if backend is None:
        from transformers.convert_slow_tokenizer import convert_slow_tokenizer

        backend = convert_slow_tokenizer(tokenizer)
    return str(backend.to_str())


def codec_for(tokenizer: Any) -> TextCodec:
    """The codec for transformers' ``tokenizer``: the Rust tokenizer where it has or converts to one, else the
    tokenizer itself behind the same interface."""
    try:
        return TextCodec.from_transformers(tokenizer)
    except Exception:  # no Rust form (no converter, a pre-tokenizer that cannot be saved): use it as it is
        return PythonTextCodec(tokenizer)


def codec_from_files(folder: Path) -> TextCodec:
    """Read a codec saved beside an exported graph (``tokenizers`` alone, or transformers for a Python one)."""
    try:
        kind = read_settings(folder).kind
    except Exception as exc:  # a damaged file in any way: the caller removes and rebuilds it
        raise EngineError(f"cannot read the saved tokenizer in {folder}: {exc}") from exc
    return PythonTextCodec.from_files(folder) if kind == "python" else TextCodec.from_files(folder)


_MARKERS = ("##", "▁", "Ġ")
_END_MARKER = "</w>"


def _surface(piece: str) -> str:
    """A piece as it appears in the text: no ``##``/``▁``/``Ġ`` prefix or ``</w>`` suffix."""
    for marker in _MARKERS:
        if piece.startswith(marker) and len(piece) > len(marker):
            piece = piece[len(marker) :]
            break
    return piece.removesuffix(_END_MARKER)


class PythonTextCodec(TextCodec):
    """A tokenizer with no Rust form, used through transformers: ids exactly as transformers makes them.

    transformers' Python tokenizers give no character offsets, so each token is
    found in the text after the one before it (case-insensitively); a token that
    cannot be found ([UNK], a normalised character) spans the gap to the next one.
    Tokens are one word when nothing separates them and the piece says it
    continues a word (``##``) or the one before does not end one (no ``</w>``
    where the vocabulary uses it); otherwise each token is a word of its own
    (one cell per residue for ESM).
    """

    def __init__(self, tokenizer: Any, settings: TextSettings | None = None) -> None:
        self.tokenizer = tokenizer
        """transformers' tokenizer."""
        self.settings = settings or _settings(
            tokenizer, clean_up=bool(getattr(tokenizer, "clean_up_tokenization_spaces", False)), kind="python"
        )
        self.mask_token = self.settings.mask_token
        self.mask_id = self.settings.mask_id
        self.pad_id = self.settings.pad_id
        vocab = tokenizer.get_vocab()
        self._wordpiece = any(p.startswith("##") for p in vocab)
        self._end_markers = any(p.endswith(_END_MARKER) for p in vocab)
        unknown = {tokenizer.unk_token, "[UNK]", "<unk>"}
        self._special_ids = {
            int(i)
            for i, t in zip(tokenizer.all_special_ids, tokenizer.all_special_tokens, strict=True)
            if i != self.mask_id and t not in unknown
        }
        self._pieces = {i: p for p, i in vocab.items()}

    @classmethod
    def from_files(cls, folder: Path) -> PythonTextCodec:
        """Read a codec saved by :meth:`save` with the tokenizer's own transformers class.

        Not ``AutoTokenizer``: importing it imports torch, which the ONNX path avoids.
        """
        try:
            import transformers

            settings = read_settings(folder)
            saved = folder / PYTHON_TOKENIZER_DIR
            name = json.loads((saved / "tokenizer_config.json").read_text(encoding="utf-8"))[
                "tokenizer_class"
            ]
            tokenizer = getattr(transformers, name).from_pretrained(str(saved))
        except Exception as exc:  # a damaged file in any way: the caller removes and rebuilds it
            raise EngineError(f"cannot read the saved tokenizer in {folder}: {exc}") from exc
        return cls(tokenizer, settings)

    def save(self, folder: Path) -> None:
        self.tokenizer.save_pretrained(str(folder / PYTHON_TOKENIZER_DIR))
        self._save_settings(folder)

    def _ids(self, text: str, *, special: bool = False) -> list[int]:
        """The ids transformers makes of ``text``, as the fill-mask pipeline asks for them."""
        return [int(i) for i in self.tokenizer(text, add_special_tokens=special)["input_ids"]]

    def _tokenize(self, text: str) -> tuple[list[int], list[tuple[int, int]], list[int], list[int | None]]:
        ids = self._ids(text, special=True)
        try:
            flags = self.tokenizer.get_special_tokens_mask(ids, already_has_special_tokens=True)
        except Exception:  # some Python tokenizers fail here (Luke's); the special ids say as much
            flags = [0] * len(ids)
        specials = [int(bool(f)) or int(i in self._special_ids) for f, i in zip(flags, ids, strict=True)]
        # [UNK] stands for a word the vocabulary lacks: scored, as the tokenizer's own special-tokens mask says
        # (get_special_tokens_mask(..., already_has_special_tokens=True) flags it on some, e.g. XLM/FlauBERT)
        unknown = self.tokenizer.unk_token_id
        specials = [0 if i == self.mask_id or i == unknown else f for f, i in zip(specials, ids, strict=True)]
        folded = text.casefold() if len(text.casefold()) == len(text) else text
        spans: list[tuple[int, int] | None] = []
        cursor = 0
        for tid, special in zip(ids, specials, strict=True):
            surface = _surface(self.id_to_piece(tid))
            if special and tid != self.mask_id:
                spans.append((0, 0))
                continue
            at = folded.find(surface.casefold(), cursor) if surface else -1
            if at < 0 or text[cursor:at].strip():  # not found, or found past text no token covers
                spans.append(None)
                continue
            spans.append((at, at + len(surface)))
            cursor = at + len(surface)
        offsets = _fill_gaps(text, spans)
        words: list[int | None] = []
        word = -1
        previous: tuple[int, int, str] | None = None
        for tid, special, (start, end) in zip(ids, specials, offsets, strict=True):
            if special:
                words.append(None)
                previous = None
                continue
            piece = self.id_to_piece(tid)
            joined = (
                previous is not None
                and previous[1] == start
                and (piece.startswith("##") or (self._end_markers and not previous[2].endswith(_END_MARKER)))
            )
            word += 0 if joined else 1
            words.append(word)
            previous = (start, end, piece)
        return ids, offsets, specials, words

    def pieces(self, text: str) -> list[int]:
        return self._ids(text)

    def id_to_piece(self, token_id: int) -> str:
        return self._pieces.get(token_id) or str(self.tokenizer.convert_ids_to_tokens(token_id) or "")

    def display(self, piece: str) -> str:
        shown = _surface(piece).strip()
        return shown or piece

    def decode(self, ids: list[int], *, skip_special: bool = False) -> str:
        return str(self.tokenizer.decode(ids, skip_special_tokens=skip_special))


def _fill_gaps(text: str, spans: list[tuple[int, int] | None]) -> list[tuple[int, int]]:
    """Spans for tokens that were not found: from the end of the one before to the start of the next one."""
    filled: list[tuple[int, int]] = []
    for i, span in enumerate(spans):
        if span is not None:
            filled.append(span)
            continue
        start = max((e for s, e in filled if e > s), default=0)
        while start < len(text) and text[start].isspace():
            start += 1
        end = next((s for s, e in (x for x in spans[i + 1 :] if x) if e > s), len(text))
        while end > start and text[end - 1].isspace():
            end -= 1
        filled.append((start, max(start, end)))
    return filled
