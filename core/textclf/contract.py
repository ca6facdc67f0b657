"""The model contract, probed through its outputs: what the kit (``textclf.testing``) and
``textclf export`` check on a PyTorch model and on its ONNX export alike.

A model is seen here as ``run(input_ids, attention_mask) -> logits`` on int64 arrays padded on
the right, as training, export and the runtime all pad. It must give one column per label, accept
every text from 0 tokens (an empty text) to ``max_length``, give finite logits, and give a text
the same logits whatever padding follows it and whatever else is in its batch. Each broken rule
is one sentence saying what to fix. Needs numpy and ``tokenizers`` only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from textclf.text import TextEncoder, pad_rows

#: How far a text's logits may move with the padding around it (as export's parity check).
PADDING_TOLERANCE = 1e-4
#: Extra padding columns a text is also run with, alone.
EXTRA_PADDING = 7

Run = Callable[[np.ndarray, np.ndarray], np.ndarray]


class ContractError(AssertionError):
    """A model broke the contract; the message says how and what to change."""


def probe_word(encoder: TextEncoder) -> str:
    """A word of the tokenizer's vocabulary that encodes to exactly one token."""
    for token in sorted(encoder.tokenizer.get_vocab()):
        if token.isalpha() and token.islower() and len(token) >= 3:
            if len(encoder.tokenizer.encode(token, add_special_tokens=False).ids) == 1:
                return token
    return "a"


def probe_texts(encoder: TextEncoder) -> dict[str, str]:
    """Texts at the edges of what a model reads, by what they are: an empty text, texts of one
    and two tokens, and one that fills ``max_length`` (cut by truncation)."""
    word = probe_word(encoder)
    return {"an empty text": "", "a 1-token text": word, "a 2-token text": f"{word} {word}",
            f"a text of max_length ({encoder.max_length} tokens)": " ".join([word] * (2 * encoder.max_length))}


def check_contract(run: Run, encoder: TextEncoder, num_labels: int, what: str,
                   texts: Sequence[str] = ()) -> None:
    """Raise ``ContractError`` when ``run`` (the model, named ``what`` in messages) breaks the
    contract on the probe texts and ``texts``."""
    probes = {**probe_texts(encoder), **{f"the text {_quote(t)}": t for t in texts}}
    rows = {name: encoder.encode(text) for name, text in probes.items()}
    alone = {name: _run_one(run, [row], encoder.pad_id, num_labels, what, name)[0]
             for name, row in rows.items()}
    for name, logits in alone.items():
        if not np.isfinite(logits).all():
            raise ContractError(f"{what} gives non-finite logits ({logits.tolist()}) for {name}; "
                                f"guard divisions and poolings against texts with few or no tokens")
    longest = max(rows.values(), key=len)
    for name, row in rows.items():
        batch = _run_one(run, [row, longest], encoder.pad_id, num_labels, what,
                         f"{name} in a batch with a longer text")[0]
        ids, mask = pad_rows([row], encoder.pad_id)
        ids = np.pad(ids, ((0, 0), (0, EXTRA_PADDING)), constant_values=encoder.pad_id)
        mask = np.pad(mask, ((0, 0), (0, EXTRA_PADDING)))
        padded = _checked(run(ids, mask), 1, num_labels, what)[0]
        for logits, how in ((batch, "in a batch with a longer text"),
                            (padded, f"followed by {EXTRA_PADDING} padding tokens")):
            difference = float(np.abs(logits - alone[name]).max())
            if not difference <= PADDING_TOLERANCE:
                raise ContractError(
                    f"{what} reads padding: the logits of {name} alone and {how} differ by "
                    f"{difference:.2e} (limit {PADDING_TOLERANCE:.0e}), so a prediction depends on "
                    f"its batch; honour attention_mask (leave padded positions out of pooling, "
                    f"attention and convolutions)")


def check_width(run: Run, encoder: TextEncoder, num_labels: int, what: str,
                texts: Sequence[str]) -> None:
    """``run`` gives a ``(batch, num_labels)`` array for a batch of ``texts``."""
    _run_one(run, encoder.encode_batch(texts), encoder.pad_id, num_labels, what,
             f"a batch of {len(texts)} texts")


def _run_one(run: Run, rows: list[list[int]], pad_id: int, num_labels: int, what: str,
             name: str) -> np.ndarray:
    try:
        logits = run(*pad_rows(rows, pad_id))
    except Exception as exc:  # whatever the model raises, the contract is broken the same way
        reason = (str(exc).strip().splitlines() or [""])[0]
        raise ContractError(
            f"{what} fails on {name} ({type(exc).__name__}: {reason}); a model must accept every "
            f"text from 0 tokens (an empty text) up to max_length: a convolution needs the "
            f"sequence padded to its widest kernel (F.pad) inside forward") from exc
    return _checked(logits, len(rows), num_labels, what)


def _checked(logits: np.ndarray, batch: int, num_labels: int, what: str) -> np.ndarray:
    shape = tuple(np.shape(logits))
    if shape != (batch, num_labels):
        raise ContractError(
            f"{what} gives logits of shape {shape} for {batch} texts and {num_labels} labels; it "
            f"must give ({batch}, {num_labels}), one column per label: size the output layer by "
            f"len(labels), not a fixed number")
    return np.asarray(logits, dtype=np.float32)


def _quote(text: str, limit: int = 30) -> str:
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")
