"""Classify texts with an exported bundle, from Python, with textclf's runtime only.

Needs only the base install (numpy, tokenizers, onnxruntime): no torch.

    python examples/predict.py BUNDLE "a text" "another text"
    cat texts.txt | python examples/predict.py BUNDLE
"""

from __future__ import annotations

import sys

import textclf.runtime


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__.strip().splitlines()[-2].strip(), file=sys.stderr)
        return 2
    texts = argv[1:] or [line for line in sys.stdin.read().splitlines() if line.strip()]
    try:
        bundle = textclf.runtime.load(argv[0])  # verifies every file of the bundle first
    except textclf.runtime.BundleError as exc:  # missing, damaged or tampered with: one line
        print(f"error: {exc}", file=sys.stderr)
        return 1
    probabilities = bundle.predict_proba(texts)  # one row per text, columns in bundle.labels
    for text, row in zip(texts, probabilities):
        best = int(row.argmax())
        print(f"{bundle.labels[best]}\t{row[best]:.4f}\t{text}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
