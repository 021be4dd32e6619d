"""The masked-LM engine: load a model, tokenize into cells, predict masks, score sentences.

torch and transformers are imported inside :meth:`MaskedLM.load`, never at
module import, so a CLI ``--help`` or the app's first frame does not wait for them.

The inference path follows ``transformers.FillMaskPipeline`` (tokenize, one
forward pass, softmax, top-k) with one difference: the encoder runs once and
the LM head (hidden → vocabulary) is applied only at the masked positions,
where the pipeline computes vocabulary logits at every position and reads a few.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import threading
import time
import warnings
from collections import OrderedDict
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING, Any

from .errors import EngineError
from .loading import ResolvedModel, resolve_model
from .types import (
    Encoding,
    MaskResult,
    ModelInfo,
    Prediction,
    PredictResult,
    ScoreResult,
    TargetScore,
    Token,
    TokenScore,
)

if TYPE_CHECKING:  # pragma: no cover
    import torch

MASK_ALIAS = "[MASK]"
"""Users may always type ``[MASK]``; it becomes the model's own mask token (``<mask>`` for RoBERTa)."""

# For each architecture: the attributes of the *ForMaskedLM model that map the
# encoder's last hidden state to vocabulary logits, applied in order. Each was
# checked against the full forward pass (tests/test_engine_heads.py). Other
# architectures run the full model: exact, just slower.
_HEADS: dict[str, tuple[str, ...]] = {
    "bert": ("cls",),
    "megatron-bert": ("cls",),
    "roberta": ("lm_head",),
    "xlm-roberta": ("lm_head",),
    "camembert": ("lm_head",),
    "distilbert": ("vocab_transform", "activation", "vocab_layer_norm", "vocab_projector"),
    "albert": ("predictions",),
    "electra": ("generator_predictions", "generator_lm_head"),
    "modernbert": ("head", "decoder"),
}
# RoBERTa-style position ids start after the padding index.
_POSITION_OFFSET_TYPES = {"roberta", "xlm-roberta", "camembert", "data2vec-text", "roberta-prelayernorm"}

_DEVICES = ("auto", "cpu", "cuda", "mps")
SCORE_BATCH = 32
CACHE_SIZE = 256
"""Prediction results kept per engine, so going back to a mask already seen answers at once."""


def resolve_device(device: str) -> str:
    """Turn ``auto``/``cpu``/``cuda[:N]``/``mps`` into a device torch can use, or explain why not."""
    import torch

    kind = device.split(":", 1)[0]
    if kind not in _DEVICES:
        raise EngineError(f"unknown device {device!r}: choose one of {', '.join(_DEVICES)}")
    if kind == "auto":
        if torch.cuda.is_available():
            return "cuda"
        if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
            return "mps"
        return "cpu"
    if kind == "cuda" and not torch.cuda.is_available():
        raise EngineError("device cuda is not available here (torch sees no CUDA GPU); use --device cpu")
    if kind == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise EngineError("device mps is not available here; use --device cpu")
    return device


FAST_MODES = ("auto", "bf16", "int8", "fp16")


def cpu_has_native_bf16() -> bool:
    """True on x86 CPUs with AVX512-BF16 or AMX, where bfloat16 matmuls run natively."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith("flags")), "").split()
    except OSError:
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def make_fast(model: Any, device: str, mode: str = "auto") -> tuple[Any, str]:
    """The model in a faster, less exact form, and a label for status bars.

    ``auto`` picks float16 on GPUs, bfloat16 on CPUs with native bfloat16
    (AVX512-BF16/AMX), and int8 dynamic quantization of the Linear layers on
    other CPUs. :meth:`MaskedLM.load` keeps a float32 copy of the LM head, and
    softmax always runs in float32.
    """
    import torch

    if mode not in FAST_MODES:
        raise EngineError(f"unknown fast mode {mode!r}: choose one of {', '.join(FAST_MODES)}")
    gpu = device.startswith(("cuda", "mps"))
    if mode == "auto":
        mode = "fp16" if gpu else "bf16" if cpu_has_native_bf16() else "int8"
    if mode == "int8":
        if gpu:
            raise EngineError("int8 dynamic quantization runs on the CPU only; use --fast fp16 on a GPU")
        with warnings.catch_warnings():  # torch marks quantized tensors deprecated; they still work
            warnings.simplefilter("ignore")
            quantized = torch.ao.quantization.quantize_dynamic(model, {torch.nn.Linear}, dtype=torch.qint8)
        return quantized, "int8 dynamic (fast)"
    dtype = torch.bfloat16 if mode == "bf16" else torch.float16
    return model.to(dtype), f"{str(dtype).removeprefix('torch.')} (fast)"


def vocab_digest(vocab: dict[str, int]) -> str:
    """A short hash of a vocabulary (token → id), to tell whether two models share one."""
    import hashlib

    digest = hashlib.sha256()
    for token, index in sorted(vocab.items(), key=lambda item: item[1]):
        digest.update(f"{index}\t{token}\n".encode("utf-8", "surrogatepass"))
    return digest.hexdigest()[:16]


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class MaskedLM:
    """A loaded masked language model with its tokenizer. Thread-safe: one forward pass at a time.

    Build it with :meth:`load`.
    """

    def __init__(
        self, model: Any, tokenizer: Any, info: ModelInfo, head: tuple[Any, ...] | None = None
    ) -> None:
        import torch

        self._torch = torch
        self.model = model
        self.tokenizer = tokenizer
        self.info = info
        self._lock = threading.Lock()
        self._device = torch.device(info.device)
        self._head = head or self._find_head(model, info.model_type)
        self._head_dtype = next(
            (p.dtype for m in self._head or () if isinstance(m, torch.nn.Module) for p in m.parameters()),
            None,
        )
        self._cache: OrderedDict[tuple[object, ...], PredictResult] = OrderedDict()
        self._cache_lock = threading.Lock()  # not the model's lock: a hit must not wait for a forward pass
        self._mask_id: int = tokenizer.mask_token_id
        self._pad_id: int | None = tokenizer.pad_token_id
        self._takes_token_types = "token_type_ids" in getattr(tokenizer, "model_input_names", ())
        backend = getattr(tokenizer, "backend_tokenizer", None)
        self._wordpiece = type(getattr(backend, "model", None)).__name__ == "WordPiece"

    # ------------------------------------------------------------------ loading

    @classmethod
    def load(
        cls,
        name: str | None = None,
        *,
        device: str = "cpu",
        allow_pickle: bool = False,
        trust_remote_code: bool = False,
        fast: str | None = None,
        progress: Callable[[str], None] | None = None,
    ) -> MaskedLM:
        """Load a masked LM by Hugging Face id, local folder or bundled short name.

        With no ``name``, the default model when it can be had, else the bundled one
        (``info.notes`` then says so).

        ``progress`` is called with a short description of each stage, for UIs.
        ``fast`` trades exactness for speed (see :func:`make_fast`): ``"auto"``,
        ``"bf16"``, ``"int8"`` or ``"fp16"``; ``None`` keeps exact float32.
        Raises :class:`EngineError` with a one-line message for anything a user can fix.
        """
        say = progress or (lambda _msg: None)
        say("importing torch and transformers")
        import torch
        import transformers
        from transformers import AutoConfig, AutoModelForMaskedLM, AutoTokenizer

        transformers.logging.set_verbosity_error()
        transformers.logging.disable_progress_bar()
        resolved: ResolvedModel = resolve_model(name, allow_pickle=allow_pickle, progress=say)
        name = resolved.name
        device = resolve_device(device)
        path = str(resolved.path)

        say(f"reading the config of {name}")
        try:
            config = AutoConfig.from_pretrained(path, trust_remote_code=trust_remote_code)
        except ValueError as exc:
            if "trust_remote_code" in str(exc):
                raise EngineError(
                    f"{name} needs custom code from its repository; pass --trust-remote-code if you trust it"
                ) from exc
            raise EngineError(f"{name}: unsupported model config: {_first_line(exc)}") from exc
        except OSError as exc:
            raise EngineError(f"{name}: cannot read config.json: {_first_line(exc)}") from exc

        from transformers.models.auto.modeling_auto import MODEL_FOR_MASKED_LM_MAPPING

        if type(config) not in MODEL_FOR_MASKED_LM_MAPPING and not getattr(config, "auto_map", None):
            raise EngineError(
                f"{name} is a {config.model_type} model with no masked-LM head; choose a fill-mask model"
            )

        say("loading the tokenizer")
        try:
            tokenizer = AutoTokenizer.from_pretrained(path, trust_remote_code=trust_remote_code)
        except Exception as exc:  # tokenizers fail in many ways; the user needs one line
            raise EngineError(f"{name}: cannot load its tokenizer: {_first_line(exc)}") from exc
        if tokenizer.mask_token is None or tokenizer.mask_token_id is None:
            raise EngineError(f"{name}: its tokenizer has no mask token, so it cannot fill masks")
        if not getattr(tokenizer, "is_fast", False):
            raise EngineError(f"{name}: mlm-tui needs a fast (Rust) tokenizer, and this model has none")

        say(f"loading the weights of {name}")
        try:
            model, loading_info = AutoModelForMaskedLM.from_pretrained(
                path,
                config=config,
                dtype=torch.float32,  # fp16 files run ~3x slower on CPUs; a fast mode is a choice
                use_safetensors=resolved.use_safetensors,
                trust_remote_code=trust_remote_code,
                output_loading_info=True,
            )
        except ValueError as exc:
            if "Unrecognized configuration class" in str(exc):
                raise EngineError(
                    f"{name} is a {config.model_type} model with no masked-LM head; choose a fill-mask model"
                ) from exc
            raise EngineError(f"{name}: cannot load the model: {_first_line(exc)}") from exc
        except (OSError, RuntimeError) as exc:
            raise EngineError(f"{name}: cannot load the model: {_first_line(exc)}") from exc

        head_warnings = cls._head_warnings(name, model, loading_info)
        model.to(device)
        model.eval()
        dtype = "float32"
        exact_head = None
        if fast:
            say(f"preparing the fast mode ({fast})")
            # The LM head stays float32: it runs at the masked positions only, so it costs little,
            # and rounding the logits to bf16/int8 reorders close candidates.
            head = cls._find_head(model, config.model_type)
            exact_head = tuple(copy.deepcopy(layer).float() for layer in head) if head else None
            model, dtype = make_fast(model, device, fast)
        max_length = cls._max_length(tokenizer, config)
        info = ModelInfo(
            name=name,
            path=path,
            model_type=config.model_type,
            device=device,
            dtype=dtype,
            mask_token=tokenizer.mask_token,
            max_length=max_length,
            vocab_size=config.vocab_size,
            warnings=tuple(head_warnings),
            notes=(resolved.note,) if resolved.note else (),
            vocab_digest=vocab_digest(tokenizer.get_vocab()),
        )
        return cls(model, tokenizer, info, head=exact_head)

    @staticmethod
    def _head_warnings(name: str, model: Any, loading_info: dict[str, Any]) -> list[str]:
        """Say so when the checkpoint did not hold the MLM head and transformers made one up."""
        prefix = model.base_model_prefix + "."
        missing = [k for k in loading_info.get("missing_keys", ()) if not k.startswith(prefix)]
        if not missing:
            return []
        shown = ", ".join(sorted(missing)[:3]) + (" ..." if len(missing) > 3 else "")
        return [
            f"{name}: the checkpoint has no trained masked-LM head ({shown} freshly initialised); "
            "its predictions are random"
        ]

    @staticmethod
    def _max_length(tokenizer: Any, config: Any) -> int:
        limits = []
        if 0 < getattr(tokenizer, "model_max_length", 0) < 1_000_000:
            limits.append(int(tokenizer.model_max_length))
        positions = getattr(config, "max_position_embeddings", None)
        if positions:
            if config.model_type in _POSITION_OFFSET_TYPES:
                positions -= (config.pad_token_id or 0) + 1
            limits.append(int(positions))
        return min(limits) if limits else 512

    @staticmethod
    def _find_head(model: Any, model_type: str) -> tuple[Any, ...] | None:
        names = _HEADS.get(model_type)
        if not names or not all(hasattr(model, n) for n in names):
            return None
        return tuple(getattr(model, n) for n in names)

    # ------------------------------------------------------------------ tokenizing

    def encode(self, text: str) -> Encoding:
        """Tokenize ``text`` into cells. ``[MASK]`` is accepted as the model's mask token."""
        if not text.strip():
            raise EngineError("the text is empty")
        if self.info.mask_token != MASK_ALIAS:
            text = text.replace(MASK_ALIAS, self.info.mask_token)
        enc = self.tokenizer(
            text,
            return_offsets_mapping=True,
            return_special_tokens_mask=True,
            truncation=False,
            verbose=False,
        )
        ids = enc["input_ids"]
        specials = enc["special_tokens_mask"]
        words = enc.word_ids()
        raw = self.tokenizer.convert_ids_to_tokens(ids)
        tokens = []
        for i, (tid, piece, (start, end), special, word) in enumerate(
            zip(ids, raw, enc["offset_mapping"], specials, words, strict=True)
        ):
            is_mask = tid == self._mask_id
            special = bool(special) and not is_mask
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

    def display(self, piece: str) -> str:
        """A token as a reader writes it: no ``##``, ``Ġ`` or ``▁`` marker."""
        shown = self.tokenizer.convert_tokens_to_string([piece])
        if piece.startswith("##") and shown.startswith("##"):
            shown = shown[2:]
        shown = shown.strip()
        return piece if not shown or "\ufffd" in shown else shown

    def substitute(self, encoding: Encoding, position: int, token_id: int) -> tuple[str, int, int]:
        """Put token ``token_id`` in the text in place of the token at ``position``.

        Returns the new text and the character span of what was inserted. A
        continuation piece (``##ing``, or a BPE piece without a space marker) is
        glued to the word before it; a word-initial piece keeps a space before it.
        """
        token = encoding.tokens[position]
        text = encoding.text
        start, end = token.start, token.end
        while start < end and text[start].isspace():
            start += 1
        piece = self.tokenizer.convert_ids_to_tokens(token_id)
        word = self.display(piece)
        if piece.startswith("##") or (not self._wordpiece and not piece.startswith(("Ġ", "▁"))):
            glued = start > 0 and text[start - 1].isspace() and (piece.startswith("##") or start != 0)
            while glued and start > 0 and text[start - 1].isspace():
                start -= 1
        elif piece.startswith(("Ġ", "▁")) and start > 0 and not text[start - 1].isspace():
            word = " " + word
        new_text = text[:start] + word + text[end:]
        return new_text, start, start + len(word)

    def token_str(self, token_id: int) -> str:
        return self.tokenizer.decode([token_id])

    # ------------------------------------------------------------------ forward

    def _logits_at(self, rows: Sequence[Sequence[int]], positions: Sequence[Sequence[int]]) -> torch.Tensor:
        """Vocabulary logits at ``positions[r]`` of each row ``r``; rows share one length.

        Returns a float32 tensor of shape (total positions, vocab) on the CPU,
        in row-major order of (row, position).
        """
        torch = self._torch
        input_ids = torch.tensor(rows, dtype=torch.long, device=self._device)
        kwargs = {"input_ids": input_ids, "attention_mask": torch.ones_like(input_ids)}
        if self._takes_token_types:
            kwargs["token_type_ids"] = torch.zeros_like(input_ids)
        row_index = torch.tensor([r for r, pos in enumerate(positions) for _ in pos], device=self._device)
        col_index = torch.tensor([p for pos in positions for p in pos], device=self._device)
        with self._lock, torch.inference_mode():
            if self._head is None:
                logits = self.model(**kwargs).logits[row_index, col_index]
            else:
                hidden = self.model.base_model(**kwargs)[0][row_index, col_index].to(self._head_dtype)
                for layer in self._head:
                    hidden = layer(hidden)
                logits = hidden
            return logits.float().cpu()

    # ------------------------------------------------------------------ predict

    def _window(self, encoding: Encoding, ids: list[int], keep: Sequence[int]) -> tuple[list[int], int]:
        """Cut ``ids`` to the model's length around the positions in ``keep``.

        Returns the window and how far positions moved left (0 when nothing was cut).
        """
        limit = self.info.max_length
        if len(ids) <= limit:
            return ids, 0
        specials = [t.special for t in encoding.tokens]
        head = next(i for i, s in enumerate(specials) if not s)
        tail = len(ids) - next(i for i, s in enumerate(reversed(specials)) if not s)
        width = limit - head - (len(ids) - tail)
        lo, hi = min(keep), max(keep)
        if hi - lo + 1 > width:
            raise EngineError(
                f"the masks are {hi - lo + 1} tokens apart but {self.info.name} reads at most {width} at once"
            )
        start = min(max((lo + hi) // 2 - width // 2, head), tail - width)
        start = min(max(start, hi - width + 1), lo)
        return ids[:head] + ids[start : start + width] + ids[tail:], start - head

    def _sequence(self, ids: Sequence[int], skip_special: bool) -> str:
        kept = [i for i in ids if i != self._pad_id]
        return self.tokenizer.decode(kept, skip_special_tokens=skip_special)

    def target_pieces(self, encoding: Encoding, position: int, target: str) -> tuple[int, ...]:
        """The subword ids that spell ``target`` at ``position``, as the tokenizer would write it there."""
        token = encoding.tokens[position]
        text = encoding.text
        spaced = token.start > 0 and (text[token.start - 1].isspace() or text[token.start].isspace())
        pieces = self.tokenizer((" " if spaced else "") + target.strip(), add_special_tokens=False)[
            "input_ids"
        ]
        if not pieces:
            raise EngineError(f"the target {target!r} has no tokens in this model's vocabulary")
        return tuple(pieces)

    def predict(
        self,
        encoding: Encoding,
        masked: Iterable[int] = (),
        *,
        top_k: int = 5,
        targets: Sequence[str] = (),
        full: bool = False,
    ) -> PredictResult:
        """Top-k candidates at every mask, as ``pipeline("fill-mask")`` gives them.

        ``masked`` adds masks at those token positions; mask tokens already in the
        text are masks too. Each mask gets its own distribution from one forward
        pass (the pipeline's semantics for several masks).

        ``targets`` scores chosen words at every mask. A word of one piece is read
        off the mask's distribution. A word of several pieces ``w1 … wn`` replaces
        the mask by n masks and is scored left to right, each piece with the ones
        before it filled in: ``log P(w) = Σ_i log P(w_i | w_<i, context)`` (the
        chained, within-word left-to-right pseudo-likelihood of Kauf & Ivanova
        2023). Its rank is 1 + the number of single tokens more probable than the
        whole word at that mask.

        ``full`` also returns each mask's whole distribution (``MaskResult.log_probs``),
        for comparing two models over the full vocabulary.
        """
        if top_k < 1:
            raise EngineError(f"top-k must be at least 1, got {top_k}")
        started = time.perf_counter()
        ids = list(encoding.ids)
        for position in masked:
            if not 0 <= position < len(ids) or encoding.tokens[position].special:
                raise EngineError(f"position {position} cannot be masked")
            ids[position] = self._mask_id
        key = (encoding.text, tuple(ids), top_k, tuple(targets), full)
        with self._cache_lock:
            hit = self._cache.get(key)
            if hit is not None:
                self._cache.move_to_end(key)
        if hit is not None:
            elapsed = (time.perf_counter() - started) * 1000
            return dataclasses.replace(hit, elapsed_ms=elapsed, cached=True)
        result = self._predict(encoding, ids, top_k, targets, started, full)
        with self._cache_lock:
            self._cache[key] = result
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return result

    def _predict(
        self,
        encoding: Encoding,
        ids: list[int],
        top_k: int,
        targets: Sequence[str],
        started: float,
        full: bool = False,
    ) -> PredictResult:
        positions = [i for i, t in enumerate(ids) if t == self._mask_id]
        if not positions:
            raise EngineError(f"the text has no mask: write {MASK_ALIAS} where a word should be predicted")

        window, shift = self._window(encoding, ids, positions)
        logits = self._logits_at([window], [[p - shift for p in positions]])
        probs = logits.softmax(dim=-1)
        log_probs = logits.log_softmax(dim=-1).numpy() if full else None
        k = min(top_k, probs.shape[-1])
        values, indices = probs.topk(k)

        single = len(positions) == 1
        masks = []
        for row, position in enumerate(positions):
            predictions = []
            for score, token_id in zip(values[row].tolist(), indices[row].tolist(), strict=True):
                filled = list(ids)
                filled[position] = token_id
                predictions.append(
                    Prediction(
                        score=score,
                        token=token_id,
                        token_str=self.token_str(token_id),
                        sequence=self._sequence(filled, skip_special=single),
                    )
                )
            scored = self._score_targets(encoding, ids, position, targets, probs[row], single)
            masks.append(
                MaskResult(
                    position=position,
                    predictions=tuple(predictions),
                    targets=scored,
                    log_probs=None if log_probs is None else log_probs[row],
                )
            )
        return PredictResult(
            ids=tuple(ids),
            masks=tuple(masks),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            truncated=shift != 0 or len(window) != len(ids),
        )

    def _score_targets(
        self,
        encoding: Encoding,
        ids: list[int],
        position: int,
        targets: Sequence[str],
        probs: torch.Tensor,
        single: bool,
    ) -> tuple[TargetScore, ...]:
        seen: dict[tuple[int, ...], TargetScore] = {}
        for target in targets:
            pieces = self.target_pieces(encoding, position, target)
            if pieces in seen:
                continue
            filled = ids[:position] + list(pieces) + ids[position + 1 :]
            if len(pieces) == 1:
                score = float(probs[pieces[0]])
                log_prob = math.log(score) if score > 0 else -math.inf
                rank = 1 + int((probs > probs[pieces[0]]).sum())
            else:
                log_prob = self._chained_log_prob(encoding, ids, position, pieces)
                score = math.exp(log_prob)
                rank = 1 + int((probs > score).sum())
            seen[pieces] = TargetScore(
                target=target.strip(),
                token_str=self.tokenizer.decode(list(pieces)),
                pieces=pieces,
                piece_strs=tuple(self.tokenizer.convert_ids_to_tokens(list(pieces))),
                score=score,
                log_prob=log_prob,
                rank=rank,
                sequence=self._sequence(filled, skip_special=single),
            )
        return tuple(sorted(seen.values(), key=lambda t: -t.log_prob))

    def _chained_log_prob(
        self, encoding: Encoding, ids: list[int], position: int, pieces: tuple[int, ...]
    ) -> float:
        n = len(pieces)
        rows, where = [], []
        for i in range(n):
            row = ids[:position] + list(pieces[:i]) + [self._mask_id] * (n - i) + ids[position + 1 :]
            rows.append(row)
            where.append(position + i)
        # The window is cut from the widened sequence; every row has the same length.
        widened = Encoding(
            text=encoding.text,
            tokens=encoding.tokens[:position]
            + (encoding.tokens[position],) * n
            + encoding.tokens[position + 1 :],
        )
        cut = [self._window(widened, row, [position, position + n - 1]) for row in rows]
        shift = cut[0][1]
        logits = self._logits_at([c[0] for c in cut], [[w - shift] for w in where])
        log_probs = logits.log_softmax(dim=-1)
        return float(sum(log_probs[i, pieces[i]] for i in range(n)))

    # ------------------------------------------------------------------ score

    def score(self, encoding: Encoding, *, batch_size: int = SCORE_BATCH) -> ScoreResult:
        """Pseudo-log-likelihood (Salazar et al. 2020), as minicons' ``token_score``.

        Each non-special, non-mask token is masked in turn with the rest visible;
        the copies run in batched forward passes with the LM head only at the
        masked position. Log-probabilities are natural logs.
        """
        started = time.perf_counter()
        ids = list(encoding.ids)
        positions = [t.index for t in encoding.tokens if not t.special and not t.is_mask]
        rows, where, shifts = [], [], []
        for position in positions:
            row = list(ids)
            row[position] = self._mask_id
            window, shift = self._window(encoding, row, [position])
            rows.append(window)
            where.append(position - shift)
            shifts.append(shift)
        scores = []
        for begin in range(0, len(rows), batch_size):
            chunk = slice(begin, begin + batch_size)
            logits = self._logits_at(rows[chunk], [[w] for w in where[chunk]])
            log_probs = logits.log_softmax(dim=-1)
            for offset, position in enumerate(positions[chunk]):
                token = encoding.tokens[position]
                scores.append(
                    TokenScore(index=position, token=token.text, log_prob=float(log_probs[offset, token.id]))
                )
        return ScoreResult(
            text=encoding.text,
            model=self.info.name,
            tokens=tuple(scores),
            elapsed_ms=(time.perf_counter() - started) * 1000,
            truncated=any(shifts) or len(ids) > self.info.max_length,
        )

    def warm_up(self) -> None:
        """One small forward pass, so the first real request does not pay for lazy initialisation."""
        self._logits_at([[self._mask_id] * 4], [[1]])
