"""Tokenizers for the encoder: a checkpoint's own, a given tokenizer.json, or one trained here."""

from __future__ import annotations

import heapq
from collections import Counter
from collections.abc import Iterable
from pathlib import Path

from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

from textclf import OptionError

SPECIAL = {"pad_token": "[PAD]", "unk_token": "[UNK]", "cls_token": "[CLS]",
           "sep_token": "[SEP]", "mask_token": "[MASK]"}
PREFIX = "##"  # marks a piece that continues a word
MAX_WORD_CHARS = 100  # a longer word is one [UNK], as in BERT


def train_wordpiece(texts: Iterable[str], vocab_size: int) -> Tokenizer:
    """A lower-cased BERT-style WordPiece tokenizer trained on ``texts``, silently.

    The same texts and ``vocab_size`` give the same tokenizer, byte for byte, in any process.
    tokenizers' own WordPieceTrainer does not: it numbers the ``##`` continuation characters in
    the order of a randomly seeded hash map, and breaks ties between equally frequent pairs by
    those numbers, so identical runs learn different vocabularies. The vocabulary is learnt here
    by the same byte-pair merges over the same words, with every tie broken in a fixed order.
    """
    normalizer = normalizers.BertNormalizer(lowercase=True)
    pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    counts = word_counts(texts, normalizer, pre_tokenizer)
    vocab = wordpiece_vocab(counts, vocab_size, list(SPECIAL.values()))
    tokenizer = Tokenizer(models.WordPiece(vocab, unk_token=SPECIAL["unk_token"],
                                           max_input_chars_per_word=MAX_WORD_CHARS))
    tokenizer.normalizer = normalizer
    tokenizer.pre_tokenizer = pre_tokenizer
    tokenizer.decoder = decoders.WordPiece(prefix=PREFIX)
    tokenizer.add_special_tokens(list(SPECIAL.values()))
    cls_id, sep_id = tokenizer.token_to_id("[CLS]"), tokenizer.token_to_id("[SEP]")
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
        special_tokens=[("[CLS]", cls_id), ("[SEP]", sep_id)])
    return tokenizer


def word_counts(texts: Iterable[str], normalizer: normalizers.BertNormalizer,
                pre_tokenizer: pre_tokenizers.BertPreTokenizer) -> Counter[str]:
    """How often each word occurs: each piece the BERT ``pre_tokenizer`` cuts from the BERT
    ``normalizer``'s output, as when the tokenizer encodes.

    Both treat a space as a boundary (the normalizer keeps it and changes nothing across it:
    lower-casing, accents and control characters are local; the pre-tokenizer splits there), so
    a text's words are those of its space-separated chunks, and each distinct chunk goes through
    the two only once. A chunk of ASCII letters and digits is one word, lower-cased, without them.
    """
    chunks: Counter[str] = Counter()
    for text in texts:
        chunks.update(text.split(" "))
    counts: Counter[str] = Counter()
    for chunk, n in chunks.items():
        if chunk.isascii() and chunk.isalnum():
            counts[chunk.lower()] += n
        else:
            for word, _ in pre_tokenizer.pre_tokenize_str(normalizer.normalize_str(chunk)):
                counts[word] += n
    return counts


def wordpiece_vocab(counts: dict[str, int], vocab_size: int, special: list[str]) -> dict[str, int]:
    """A WordPiece vocabulary of ``vocab_size`` pieces (more if the characters alone are more)
    learnt from word ``counts`` by byte-pair merges, as tokenizers' WordPieceTrainer does.

    The ``special`` tokens come first, then every character, then every character that
    continues a word, ``##``-prefixed, each group sorted; then the piece made by merging the
    most frequent pair of adjacent pieces within the words, again and again until the vocabulary
    is full. Equally frequent pairs merge in the order of their ids, which depend on the counts
    alone: the result does not depend on the order of ``counts``, on hashing or on threads.
    """
    tokens = list(dict.fromkeys(special))
    ids = {token: i for i, token in enumerate(tokens)}

    def add(token: str) -> int:
        if token not in ids:
            ids[token] = len(tokens)
            tokens.append(token)
        return ids[token]

    vocab = sorted(word for word in counts if word)  # a fixed order, whatever the input's
    for char in sorted({char for word in vocab for char in word}):
        add(char)
    for char in sorted({char for word in vocab for char in word[1:]}):
        add(PREFIX + char)
    words = [[ids[word[0]], *(ids[PREFIX + char] for char in word[1:])] for word in vocab]
    freqs = [counts[word] for word in vocab]
    # A pair of ids (a, b) is the int a * base + b, which sorts as the tuple does: ids stay
    # below base, since a merge adds at most one piece and merging stops at vocab_size.
    base = max(len(tokens), vocab_size)

    pair_counts: dict[int, int] = {}
    where: dict[int, set[int]] = {}  # the words a pair occurs in (or once did)
    for index, (word, freq) in enumerate(zip(words, freqs)):
        for a, b in zip(word, word[1:]):
            key = a * base + b
            pair_counts[key] = pair_counts.get(key, 0) + freq
            where.setdefault(key, set()).add(index)
    heap = [(-count, key) for key, count in pair_counts.items()]
    heapq.heapify(heap)

    while len(tokens) < vocab_size and heap:
        negative, key = heapq.heappop(heap)
        count = pair_counts.get(key, 0)
        if count != -negative:  # a stale entry: the pair's count has changed since
            if count > 0:
                heapq.heappush(heap, (-count, key))
            continue
        a, b = divmod(key, base)  # ties went to the smallest (a, b)
        merged = add(tokens[a] + tokens[b][len(PREFIX):])
        grown: set[int] = set()
        for index in where.pop(key):
            word = words[index]
            i = _find(word, a, b)
            if i < 0:
                continue  # an earlier merge took the pair out of this word
            if a in word[i + 2:]:  # maybe more than once: the general case
                _merge(words, index, (a, b, merged, base), freqs[index], pair_counts, where, grown)
                continue
            freq = freqs[index]  # once, the usual case: two neighbouring pairs change
            if i > 0:
                pair_counts[word[i - 1] * base + a] -= freq
                gain = word[i - 1] * base + merged
                pair_counts[gain] = pair_counts.get(gain, 0) + freq
                where.setdefault(gain, set()).add(index)
                grown.add(gain)
            if i + 2 < len(word):
                pair_counts[b * base + word[i + 2]] -= freq
                gain = merged * base + word[i + 2]
                pair_counts[gain] = pair_counts.get(gain, 0) + freq
                where.setdefault(gain, set()).add(index)
                grown.add(gain)
            word[i:i + 2] = [merged]
        del pair_counts[key]  # every occurrence is merged now
        for gain in grown:  # a fresh entry for each pair that gained; the heap orders them
            if pair_counts[gain] > 0:
                heapq.heappush(heap, (-pair_counts[gain], gain))
    return ids


def _find(word: list[int], a: int, b: int) -> int:
    """Where the pair (a, b) first occurs in ``word``, or -1."""
    start, last = 0, len(word) - 1
    while True:
        try:
            i = word.index(a, start, last)
        except ValueError:
            return -1
        if word[i + 1] == b:
            return i
        start = i + 1


def _merge(words: list[list[int]], index: int, merge: tuple[int, int, int, int], freq: int,
           pair_counts: dict[int, int], where: dict[int, set[int]], grown: set[int]) -> None:
    """Replace each (a, b) in ``words[index]``, left to right, by ``merged``; update the counts
    of the pairs around them, and note in ``grown`` the pairs that gained."""
    a, b, merged, base = merge
    word = words[index]
    n = len(word)
    new: list[int] = []
    old_at: list[int] = []  # where each merged pair was in ``word``
    new_at: list[int] = []  # and where its merged symbol is in ``new``
    start = 0
    while True:
        try:
            i = word.index(a, start)
        except ValueError:
            break
        if i + 1 < n and word[i + 1] == b:
            new.extend(word[start:i])
            old_at.append(i)
            new_at.append(len(new))
            new.append(merged)
            start = i + 2
        else:
            new.extend(word[start:i + 1])
            start = i + 1
    if not old_at:
        return  # an earlier merge took the pair out of this word
    new.extend(word[start:])
    # Only the pairs that touch a merged position change: take them out, put the new ones in.
    for i in {i + d for i in old_at for d in (-1, 0, 1) if 0 <= i + d < n - 1}:
        pair_counts[word[i] * base + word[i + 1]] -= freq
    m = len(new)
    for i in {i + d for i in new_at for d in (-1, 0) if 0 <= i + d < m - 1}:
        key = new[i] * base + new[i + 1]
        pair_counts[key] = pair_counts.get(key, 0) + freq
        where.setdefault(key, set()).add(index)
        grown.add(key)
    words[index] = new


def read_tokenizer(path: Path) -> Tokenizer:
    """A ``tokenizer.json``, or the one in a checkpoint directory."""
    file = path / "tokenizer.json" if path.is_dir() else path
    if not file.is_file():  # tokenizers reports a missing file with its own exception type
        raise OptionError(f"`tokenizer` {path}: no such tokenizer.json")
    try:
        return Tokenizer.from_file(str(file))
    except Exception as exc:
        raise OptionError(f"`tokenizer` {path}: not a tokenizers JSON file ({exc})") from None


def as_transformers(tokenizer: Tokenizer):
    """The same tokenizer as a transformers fast tokenizer, so that it saves in the HF format."""
    from transformers import PreTrainedTokenizerFast

    present = {k: v for k, v in SPECIAL.items() if tokenizer.token_to_id(v) is not None}
    return PreTrainedTokenizerFast(tokenizer_object=tokenizer, **present)
