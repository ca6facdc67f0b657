"""Running an exported bundle: numpy, tokenizers and onnxruntime only, never torch.

``load(directory)`` verifies the bundle (format version, the checksum of ``textclf.json`` itself,
the size and SHA-256 of every file it lists) and returns a ``Bundle`` whose ``predict(texts)`` and
``predict_proba(texts)`` encode text exactly as training did (``textclf.text``), run length-sorted
batches through onnxruntime, and answer in input order.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from textclf.errors import TextclfError
from textclf.records import file_sha256
from textclf.text import TextEncoder, pad_rows

#: The bundle format this textclf writes and the newest it reads.
FORMAT = 1
MANIFEST = "textclf.json"
#: Padded tokens per batch, by device. A CPU is fastest on small batches whose activations stay
#: in cache (measured: 2x the throughput of 32-row batches on IMDB reviews); a GPU wants many.
MAX_BATCH_TOKENS = {"cpu": 1024, "cuda": 16384}


class BundleError(TextclfError):
    """A bundle that cannot be used: missing, damaged, tampered with, or from a newer textclf."""


@dataclass(frozen=True)
class Prediction:
    """One text's label, its probability, every label's probability, and whether it was cut."""

    label: str
    probability: float
    probabilities: dict[str, float]
    truncated: bool


def manifest_digest(manifest: dict[str, Any]) -> str:
    """SHA-256 over the manifest's content, without the digest field itself."""
    content = {k: v for k, v in manifest.items() if k != "manifest_sha256"}
    return hashlib.sha256(json.dumps(content, sort_keys=True).encode()).hexdigest()


def verify(directory: str | Path) -> dict[str, Any]:
    """The bundle's manifest, after checking everything it vouches for; a clear error otherwise."""
    directory = Path(directory)
    path = directory / MANIFEST
    if not directory.is_dir():
        raise BundleError(f"{directory}: no such bundle directory")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BundleError(f"{directory}: not a textclf bundle (no {MANIFEST}); export one with "
                          f"textclf export RUN --output DIR") from None
    except (OSError, ValueError) as exc:
        raise BundleError(f"{path}: damaged ({exc}); export the bundle again") from None
    version = manifest.get("format") if isinstance(manifest, dict) else None
    if not isinstance(version, int):
        raise BundleError(f"{path}: not a textclf bundle manifest (no format version); export the "
                          f"bundle again")
    if version > FORMAT:
        from textclf import __version__

        raise BundleError(f"{directory}: bundle format {version} is newer than this textclf "
                          f"{__version__} reads (format {FORMAT}); upgrade textclf")
    if manifest.get("manifest_sha256") != manifest_digest(manifest):
        raise BundleError(f"{path}: changed after export (its checksum does not match); export "
                          f"the bundle again")
    for name, expected in manifest["files"].items():
        file = directory / name
        if not file.is_file():
            raise BundleError(f"{file}: missing from the bundle; export it again")
        size = file.stat().st_size
        if size != expected["bytes"]:
            raise BundleError(f"{file}: {size:,} bytes where the bundle says {expected['bytes']:,} "
                              f"(truncated or replaced); export the bundle again")
        if file_sha256(file) != expected["sha256"]:
            raise BundleError(f"{file}: its SHA-256 does not match the bundle's (changed, swapped "
                              f"or corrupted); export the bundle again")
    return manifest


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

    def logits(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        return self._run(list(texts), batch_size)[0]

    def predict_proba(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        """Probabilities, one row per text and one column per label (``self.labels``)."""
        return softmax(self.logits(texts, batch_size))

    def predict(self, texts: Sequence[str], batch_size: int = 32) -> list[str]:
        """The most probable label of each text."""
        return [self.labels[i] for i in self.logits(texts, batch_size).argmax(axis=1)]

    def classify(self, texts: Sequence[str], batch_size: int = 32) -> list[Prediction]:
        """Label, probabilities and truncation of each text."""
        logits, truncated = self._run(list(texts), batch_size)
        probabilities = softmax(logits)
        return [Prediction(self.labels[int(row.argmax())], float(row.max()),
                           dict(zip(self.labels, map(float, row))), bool(cut))
                for row, cut in zip(probabilities, truncated)]

    def _run(self, texts: list[str], batch_size: int) -> tuple[np.ndarray, np.ndarray]:
        rows, truncated = self.encoder.encode_batch_checked(texts)

        def run(ids: np.ndarray, mask: np.ndarray) -> np.ndarray:
            return self.session.run(None, dict(zip(self.input_names, (ids, mask))))[0]

        logits = batched(rows, batch_size, self.encoder.pad_id, len(self.labels), run,
                         max_tokens=self.max_batch_tokens)
        return logits, np.array(truncated, dtype=bool)


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
         max_batch_tokens: int | None = None, verify_files: bool = True) -> Bundle:
    """Load and verify a bundle written by ``textclf export``. ``max_batch_tokens`` caps the
    padded tokens per batch (default: 1024 on a CPU, 16384 on a GPU)."""
    import onnxruntime as ort
    from tokenizers import Tokenizer

    directory = Path(directory)
    manifest = verify(directory) if verify_files else json.loads((directory / MANIFEST).read_text())
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    chosen = providers(provider)
    try:
        session = ort.InferenceSession(str(directory / manifest["model"]), sess_options=options,
                                       providers=chosen)
        tokenizer = Tokenizer.from_file(str(directory / manifest["tokenizer"]))
    except BundleError:
        raise
    except Exception as exc:  # onnxruntime and tokenizers raise their own exception types
        raise BundleError(f"{directory}: cannot load the bundle ({exc}); export it again") from None
    encoder = TextEncoder(tokenizer, manifest["max_length"], manifest["truncation"])
    device = "cuda" if chosen[0].startswith("CUDA") else "cpu"
    return Bundle(directory, manifest, session, encoder, max_batch_tokens or MAX_BATCH_TOKENS[device])
