"""The DistilBERT plugin's from-scratch WordPiece tokenizer against tokenizers' WordPieceTrainer,
side by side on the same real reviews: repeatability, time, and how well each tokenizes held-out
text.

Both learn a lower-cased BERT WordPiece vocabulary from the train reviews of the IMDB dev subset
(``../shared/data/imdb-dev.tar.gz``), three times each. Reported: how many distinct
``tokenizer.json`` files the three runs gave (1 is repeatable), the median training time, and on
the test reviews the share of words cut into more than one piece, pieces per word and the share
of [UNK]; then the time ratio.

    .venv/bin/python benchmarks/wordpiece.py [--data ../shared/data/imdb-dev.tar.gz] [--vocab-size 8000]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tarfile
import time
from pathlib import Path

from textclf_distilbert.tokenizer import SPECIAL, train_wordpiece
from tokenizers import Tokenizer, models, normalizers, pre_tokenizers, trainers

RUNS = 3


def reviews(archive: Path) -> dict[str, list[str]]:
    """The archive's train and test review texts, in archive order."""
    texts: dict[str, list[str]] = {"train": [], "test": []}
    with tarfile.open(archive) as tar:
        for member in tar:
            parts = member.name.split("/")
            if member.isfile() and len(parts) == 4 and parts[1] in texts and parts[2] in ("pos", "neg"):
                handle = tar.extractfile(member)
                assert handle is not None
                texts[parts[1]].append(handle.read().decode("utf-8").replace("<br />", " "))
    return texts


def upstream(texts: list[str], vocab_size: int) -> Tokenizer:
    """tokenizers' own trainer, set up as the plugin set it up before (progress off)."""
    tokenizer = Tokenizer(models.WordPiece(unk_token="[UNK]"))
    tokenizer.normalizer = normalizers.BertNormalizer(lowercase=True)
    tokenizer.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    trainer = trainers.WordPieceTrainer(vocab_size=vocab_size, special_tokens=list(SPECIAL.values()),
                                        show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def quality(tokenizer: Tokenizer, texts: list[str]) -> dict[str, float]:
    words = pieces = split = unknown = 0
    unk = tokenizer.token_to_id("[UNK]")
    for encoding in tokenizer.encode_batch(texts, add_special_tokens=False):
        per_word: dict[int, int] = {}
        for word in encoding.word_ids:
            if word is not None:
                per_word[word] = per_word.get(word, 0) + 1
        words += len(per_word)
        pieces += len(encoding.ids)
        split += sum(1 for n in per_word.values() if n > 1)
        unknown += encoding.ids.count(unk)
    return {"split": split / words, "pieces_per_word": pieces / words, "unk": unknown / pieces}


def measure(name: str, train, texts: dict[str, list[str]], vocab_size: int) -> float:
    seconds, files = [], set()
    for _ in range(RUNS):
        start = time.perf_counter()
        tokenizer = train(texts["train"], vocab_size)
        seconds.append(time.perf_counter() - start)
        files.add(hashlib.sha256(tokenizer.to_str().encode()).hexdigest())
    q = quality(tokenizer, texts["test"])
    median = statistics.median(seconds)
    print(f"{name:<28} {len(files)}/{RUNS} distinct  {median:6.2f} s  vocab {tokenizer.get_vocab_size():,}  "
          f"words split {q['split']:.2%}  pieces/word {q['pieces_per_word']:.3f}  [UNK] {q['unk']:.3%}")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=Path(__file__).parents[2] / "shared/data/imdb-dev.tar.gz")
    parser.add_argument("--vocab-size", type=int, default=8000)
    args = parser.parse_args()
    texts = reviews(args.data)
    print(f"{len(texts['train']):,} train and {len(texts['test']):,} test reviews from {args.data}, "
          f"vocab size {args.vocab_size:,}, {RUNS} runs each")
    ours = measure("textclf train_wordpiece", train_wordpiece, texts, args.vocab_size)
    theirs = measure("tokenizers WordPieceTrainer", upstream, texts, args.vocab_size)
    print(f"time ratio (WordPieceTrainer / textclf): {theirs / ours:.2f}x")


if __name__ == "__main__":
    main()
