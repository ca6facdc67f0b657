"""Running an exported bundle: numpy, tokenizers and onnxruntime only, never torch.

``load(directory)`` verifies the bundle and returns a ``Bundle`` whose ``predict(texts)`` and
``predict_proba(texts)`` encode text exactly as training did (``textclf.text``), run length-sorted
batches through onnxruntime, and answer in input order.

Verifying (``textclf.bundle``) checks the format version, the checksum of ``textclf.json``
itself, the type and range of every field it holds, that it lists exactly the files in the bundle
directory (each a regular file inside it: nothing outside the bundle is ever opened), their sizes
and SHA-256, and that the model takes the listed inputs and gives one score per label.

What the checksums prove: that the bundle is the one that was exported, against accidents (a
truncated or partial copy, bit rot, a file swapped from another bundle). What they do not prove:
who made it. They have no secret, so whoever can edit a bundle can recompute them; load bundles
only from where you trust, or have them signed: ``load(directory, trusted_keys=[...])`` refuses
a bundle that does not carry a signature by one of those Ed25519 public keys
(``textclf export --sign KEYFILE``; needs ``textclf[sign]``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textclf import bundle
# Defined with the bundle format, and part of this module's API: runtime.BundleError and the rest.
from textclf.bundle import FORMAT as FORMAT
from textclf.bundle import MANIFEST as MANIFEST
from textclf.bundle import BundleError as BundleError
from textclf.bundle import manifest_digest as manifest_digest
from textclf.errors import TextclfError
from textclf.text import TextEncoder, pad_rows

#: Padded tokens per batch, by device. A CPU is fastest on small batches whose activations stay
#: in cache (measured: 2x the throughput of 32-row batches on IMDB reviews); a GPU wants many.
MAX_BATCH_TOKENS = {"cpu": 1024, "cuda": 16384}


class PredictionError(TextclfError):
    """onnxruntime failed to run a loaded bundle's model."""

    options = frozenset({"max_batch_tokens"})


@dataclass(frozen=True)
class Prediction:
    """One text's most probable label and its probability, every label's probability, whether
    the text was cut, and ``labels``: the labels it is given (that one label in a single-label
    bundle; in a multi-label bundle every label at or over its threshold, most probable first,
    perhaps none)."""

    label: str
    probability: float
    probabilities: dict[str, float]
    truncated: bool
    labels: tuple[str, ...] = ()


def verify(directory: str | Path, *, trusted_keys: Sequence[str | Path] | None = None) -> dict[str, Any]:
    """The bundle's manifest, after checking everything it vouches for; a clear error otherwise.
    With ``trusted_keys`` (public key files, PEM or OpenSSH), one of them must have signed it."""
    return bundle.verify(Path(directory), trusted_keys=trusted_keys)


class Bundle:
    """A loaded bundle: ``predict``, ``predict_proba``, ``classify``, ``logits``."""

    def __init__(self, directory: Path, manifest: dict[str, Any], session: Any,
                 encoder: TextEncoder, max_batch_tokens: int = MAX_BATCH_TOKENS["cpu"]) -> None:
        self.directory, self.manifest = directory, manifest
        self.session, self.encoder = session, encoder
        #: A batch holds at most this many padded tokens (and at most ``batch_size`` texts).
        self.max_batch_tokens = max_batch_tokens
        self.labels: list[str] = list(manifest["labels"])
        self.input_names: list[str] = list(manifest["inputs"])
        #: "single_label" (softmax, one label per text) or "multi_label" (a sigmoid per label).
        self.task: str = manifest.get("task", bundle.SINGLE_LABEL)
        self.multi_label = self.task == bundle.MULTI_LABEL
        #: Per-label decision thresholds of a multi-label bundle (None for single-label).
        self.thresholds = np.array(manifest["thresholds"], dtype=np.float64) if self.multi_label else None

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._run(list(texts), batch_size)[0]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Probabilities, one row per text and one column per label (``self.labels``): a
        softmax over the labels, or in a multi-label bundle each label's own sigmoid."""
        return self.probabilities(self.logits(texts, batch_size))

    def probabilities(self, logits: np.ndarray) -> np.ndarray:
        """The model's ``logits`` as this bundle's task reads them."""
        return sigmoid(logits) if self.multi_label else softmax(logits)

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[str] | list[list[str]]:
        """The most probable label of each text; in a multi-label bundle, each text's list of
        labels at or over their thresholds (most probable first; perhaps empty)."""
        if self.multi_label:
            return [list(self.chosen(row)) for row in self.predict_proba(texts, batch_size)]
        return [self.labels[i] for i in self.logits(texts, batch_size).argmax(axis=1)]

    def chosen(self, probabilities: np.ndarray) -> tuple[str, ...]:
        """The labels one text's ``probabilities`` give it: the most probable one, or in a
        multi-label bundle those at or over their thresholds, most probable first."""
        if self.thresholds is None:
            return (self.labels[int(probabilities.argmax())],)
        order = np.argsort(-probabilities, kind="stable")
        return tuple(self.labels[i] for i in order if probabilities[i] >= self.thresholds[i])

    def classify(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """Label(s), probabilities and truncation of each text."""
        logits, truncated = self._run(list(texts), batch_size)
        probabilities = self.probabilities(logits)
        return [Prediction(self.labels[int(row.argmax())], float(row.max()),
                           dict(zip(self.labels, map(float, row))), bool(cut), self.chosen(row))
                for row, cut in zip(probabilities, truncated)]

    def batch_logits(self, rows: Sequence[Sequence[int]]) -> np.ndarray:
        """The logits of one batch of encoded texts (rows of ``self.encoder``), padded together."""
        return self._session_run(*pad_rows(rows, self.encoder.pad_id))

    def _session_run(self, ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
        try:
            return self.session.run(None, dict(zip(self.input_names, (ids, mask))))[0]
        except Exception as exc:  # onnxruntime's own errors derive from Exception alone
            raise self._failed(exc, ids.shape) from exc

    def _run(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        rows, truncated = self.encoder.encode_batch_checked(texts)
        logits = batched(rows, batch_size, self.encoder.pad_id, len(self.labels), self._session_run,
                         max_tokens=self.max_batch_tokens)
        return logits, np.array(truncated, dtype=bool)

    def _failed(self, exc: Exception, shape: tuple[int, ...]) -> PredictionError:
        reason = (str(exc).strip().splitlines() or [""])[0]
        return PredictionError(
            f"{self.directory}: onnxruntime failed to run the model on a batch of {shape[0]}x"
            f"{shape[1]} tokens ({type(exc).__name__}: {reason}); if it ran out of memory, lower "
            f"`max_batch_tokens`, otherwise export the bundle again")


def batches(lengths: Sequence[int], batch_size: int, max_tokens: int | None = None) -> list[np.ndarray]:
    """Indices of length-sorted batches: each at most ``batch_size`` rows and, when given,
    ``max_tokens`` padded tokens (one row at least)."""
    order = np.argsort(np.asarray(lengths), kind="stable")
    out: list[np.ndarray] = []
    current: list[int] = []
    for i in order:
        padded = (len(current) + 1) * max(1, lengths[i])  # sorted: this row is the longest yet
        if current and (len(current) == batch_size or (max_tokens and padded > max_tokens)):
            out.append(np.array(current))
            current = []
        current.append(i)
    if current:
        out.append(np.array(current))
    return out


def batched(rows: Sequence[Sequence[int]], batch_size: int, pad_id: int, width_out: int,
            run: Callable[[np.ndarray, np.ndarray], np.ndarray],
            max_tokens: int | None = None) -> np.ndarray:
    """``run(input_ids, attention_mask)`` over length-sorted, padded batches of ``rows``; the
    outputs come back in the rows' order."""
    out = np.zeros((len(rows), width_out), dtype=np.float32)
    for chosen in batches([len(r) for r in rows], batch_size, max_tokens):
        out[chosen] = run(*pad_rows([rows[i] for i in chosen], pad_id))
    return out


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Each logit's own probability (multi-label), computed without overflow."""
    x = logits.astype(np.float64)
    return np.exp(-np.logaddexp(0.0, -x))


def softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits.astype(np.float64) - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def providers(choice: str) -> list[str]:
    """onnxruntime execution providers for ``auto`` (CUDA when present), ``cuda`` or ``cpu``."""
    import onnxruntime as ort

    available = ort.get_available_providers()
    if choice == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if choice == "cuda":
        raise BundleError("--provider cuda: onnxruntime here has no CUDA execution provider; "
                          "install onnxruntime-gpu, or use --provider cpu")
    return ["CPUExecutionProvider"]


def load(directory: str | Path, *, threads: int | None = None, provider: str = "auto",
         max_batch_tokens: int | None = None, verify_files: bool = True,
         trusted_keys: Sequence[str | Path] | None = None) -> Bundle:
    """Load and verify a bundle written by ``textclf export``. ``max_batch_tokens`` caps the
    padded tokens per batch (default: 1024 on a CPU, 16384 on a GPU). With ``trusted_keys``
    (public key files, PEM or OpenSSH), the bundle must carry a signature by one of them.
    ``verify_files=False`` skips checking the listed files' sizes and SHA-256 (for a bundle
    that was just written); every other check still runs."""
    import onnxruntime as ort

    directory = Path(directory)
    manifest = bundle.verify(directory, files=verify_files, trusted_keys=trusted_keys)
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    chosen = providers(provider)
    model = directory / manifest["model"]
    session = _session(model, options, chosen)
    encoder = _encoder(directory, manifest)

    def first_logits() -> np.ndarray:
        ids, mask = pad_rows(encoder.encode_batch(["textclf"]), encoder.pad_id)
        return session.run(None, dict(zip(manifest["inputs"], (ids, mask))))[0]

    bundle.check_model(model, manifest, session, first_logits)
    device = "cuda" if chosen[0].startswith("CUDA") else "cpu"
    return Bundle(directory, manifest, session, encoder, max_batch_tokens or MAX_BATCH_TOKENS[device])


def _session(model: Path, options: Any, chosen: list[str]) -> Any:
    import onnxruntime as ort

    try:
        return ort.InferenceSession(str(model), sess_options=options, providers=chosen)
    except Exception as exc:  # onnxruntime raises its own exception types
        reason = bundle.one_line(exc)
        if "external data" in reason.lower():
            # onnxruntime quotes where the external data resolved to, perhaps outside the bundle.
            reason = "its external data is missing, outside the bundle, or unreadable"
        raise BundleError(f"{model}: onnxruntime {ort.__version__} cannot load the model ({reason}); "
                          f"export the bundle again, or upgrade onnxruntime") from None


def _encoder(directory: Path, manifest: dict[str, Any]) -> TextEncoder:
    from tokenizers import Tokenizer

    path = directory / manifest["tokenizer"]
    try:
        tokenizer = Tokenizer.from_file(str(path))
    except Exception as exc:  # tokenizers raises its own exception types
        raise BundleError(f"{path}: not a tokenizer the tokenizers library reads "
                          f"({bundle.one_line(exc)}); export the bundle again") from None
    try:
        return TextEncoder(tokenizer, manifest["max_length"], manifest["truncation"])
    except ValueError as exc:  # a max length the special tokens fill, or a tokenizer without a template
        raise BundleError(f"{directory}: {exc}; export the bundle again") from None
