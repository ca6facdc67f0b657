"""``textclf predict`` input and output that cannot lose texts or blow up: an output that is the
input is refused, lines split at "\\n" alone, the input streamed in chunks with an all-or-nothing
``--output``, very long texts cut before the tokenizer, and onnxruntime failures one clear line."""

from __future__ import annotations

import importlib
import json
import os
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import onnxruntime
import pytest
from onnxruntime.capi.onnxruntime_pybind11_state import RuntimeException
from tokenizers import Tokenizer, models, pre_tokenizers, processors, trainers

from textclf import runtime
from textclf.errors import TextclfError
from textclf.records import jsonl_records, split_lines
from textclf.testing import lines, table_rows
from textclf.text import CHARS_PER_TOKEN, TRUNCATIONS, TextEncoder, special_tokens, truncate
from tiny_runs import trained_bundle

# ``textclf.cli`` binds the name ``predict`` to the command, hiding the module of that name.
predict_cli = importlib.import_module("textclf.cli.predict")


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> dict[str, Path]:
    """A finished run of the tiny model and its fp32 bundle, made once for the module."""
    return trained_bundle(tmp_path_factory.mktemp("predict_io"))


@pytest.fixture
def chunks_of_two(monkeypatch):
    """Chunks of two texts, so that a few lines of input take several."""
    monkeypatch.setattr(predict_cli, "CHUNK_TEXTS", 2)


def texts_of(jsonl: str) -> list[str]:
    return [json.loads(line)["text"] for line in jsonl.splitlines()]


# -- an output that is the input -------------------------------------------------------------

@pytest.mark.parametrize("how", ["same path", "another spelling", "relative input", "symlink", "hard link"])
def test_an_output_that_is_the_input_is_refused(trained, textclf_cli, tmp_path, how):
    texts = tmp_path / "texts.txt"
    texts.write_text("a good film\nawful\n")
    (tmp_path / "sub").mkdir()
    source, output = str(texts), texts
    if how == "another spelling":
        output = tmp_path / "sub" / ".." / "texts.txt"
    elif how == "relative input":
        source = "texts.txt"
    elif how == "symlink":
        output = tmp_path / "link.txt"
        output.symlink_to(texts)
    elif how == "hard link":
        output = tmp_path / "hard.txt"
        os.link(texts, output)
    result = textclf_cli("predict", str(trained["bundle"]), "-i", source, "-o", str(output), "-f", "jsonl",
                         cwd=tmp_path)
    assert (result.returncode, result.stdout, lines(result.stderr)) == (2, "", [
        f"error: --output {output}: it is the --input file, which the predictions would replace; "
        f"write them to another file"])
    assert texts.read_text() == "a good film\nawful\n"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []


# -- lines split at "\n" alone ---------------------------------------------------------------

def test_txt_lines_are_split_at_newlines_only(trained, textclf_cli, tmp_path):
    texts = ["a good\x0cfilm", "awful\u2028poor\x85film\x1cbad\rbad", "fine\x0bgreat\x1d\x1e\u2029"]
    (tmp_path / "texts.txt").write_bytes(f"{texts[0]}\r\n{texts[1]}\r\n{texts[2]}\n".encode())
    result = textclf_cli("predict", str(trained["bundle"]), "-i", str(tmp_path / "texts.txt"), "-f", "jsonl")
    assert (result.returncode, lines(result.stderr)) == (0, [])
    assert texts_of(result.stdout) == texts
    # Escaped in the output, so that readers splitting it with str.splitlines keep each record whole.
    assert not {"\x85", "\u2028", "\u2029"} & set(result.stdout)


def test_jsonl_input_may_hold_line_separators_inside_strings(trained, textclf_cli, tmp_path):
    texts = ["great\u2028film", "awful\x85poor", "superb\u2029"]
    (tmp_path / "rows.jsonl").write_text(
        "".join(json.dumps({"text": t}, ensure_ascii=False) + "\r\n" for t in texts), encoding="utf-8")
    result = textclf_cli("predict", str(trained["bundle"]), "-i", str(tmp_path / "rows.jsonl"), "-f", "jsonl")
    assert (result.returncode, lines(result.stderr)) == (0, [])
    assert texts_of(result.stdout) == texts


def test_jsonl_records_split_at_newlines_only():
    text = '{"t": "a\u2028b"}\r\n\n  \n{"t": "c\x85d\\f"}\n["e\u2029"]'
    assert list(jsonl_records(text, "x.jsonl")) == [
        (1, {"t": "a\u2028b"}), (4, {"t": "c\x85d\x0c"}), (5, ["e\u2029"])]
    with pytest.raises(TextclfError, match=r"^x.jsonl line 2: invalid JSON \(Expecting value at column 1\)$"):
        list(jsonl_records('"a\u2028b"\nnope\n', "x.jsonl"))
    assert split_lines("a\x0cb\u2028c\r\nd\n\ne\x85") == ["a\x0cb\u2028c", "d", "", "e\x85"]
    assert (split_lines(""), split_lines("\n"), split_lines("a\nb\n")) == ([], [""], ["a", "b"])


# -- streaming ---------------------------------------------------------------------------------

def test_the_input_is_read_classified_and_written_a_chunk_at_a_time(trained, textclf_cli, tmp_path,
                                                                    monkeypatch, chunks_of_two):
    (tmp_path / "texts.txt").write_text("".join(f"text {i} good\n" for i in range(7)))
    read: list[int] = []
    read_lines = predict_cli._decoded_lines

    def counting(*args: Any) -> Any:
        for number, line in read_lines(*args):
            read.append(number)
            yield number, line

    classified: list[tuple[int, int]] = []
    classify = runtime.Bundle.classify

    def spying(self: runtime.Bundle, texts: Sequence[str], batch_size: int = 32) -> Any:
        classified.append((len(texts), len(read)))
        return classify(self, texts, batch_size)

    monkeypatch.setattr(predict_cli, "_decoded_lines", counting)
    monkeypatch.setattr(runtime.Bundle, "classify", spying)
    result = textclf_cli("predict", str(trained["bundle"]), "-i", str(tmp_path / "texts.txt"), "-f", "jsonl")
    assert result.returncode == 0, result.stderr
    # (texts in the chunk, lines read so far): a chunk is classified as soon as the next line shows it full.
    assert classified == [(2, 3), (2, 5), (2, 7), (1, 7)]
    assert texts_of(result.stdout) == [f"text {i} good" for i in range(7)]


def test_chunks_end_at_a_number_of_texts_or_of_characters():
    endless = (str(i) * (i % 5) for i in range(10**9))
    assert next(predict_cli.chunks(endless, 3, 100)) == ["", "1", "22"]
    texts = ["a" * 40, "b" * 40, "c" * 40, "d" * 200, "e"]
    assert list(predict_cli.chunks(texts, 10, 100)) == [texts[:2], texts[2:3], texts[3:4], texts[4:]]


@pytest.mark.parametrize("fmt", ["json", "jsonl", "csv", "table"])
def test_chunked_output_is_the_whole_output(trained, textclf_cli, tmp_path, monkeypatch, fmt):
    texts = ["a good great film", "bad awful poor", "fine, \"really\"", "dreadful\nboring", "superb"]
    (tmp_path / "texts.jsonl").write_text("".join(json.dumps({"text": t}) + "\n" for t in texts))
    run = ("predict", str(trained["bundle"]), "-i", str(tmp_path / "texts.jsonl"), "-f", fmt, "--batch-size", "1")
    whole = textclf_cli(*run)
    monkeypatch.setattr(predict_cli, "CHUNK_TEXTS", 2)
    chunked = textclf_cli(*run)
    assert (whole.returncode, chunked.returncode) == (0, 0)
    if fmt == "table":  # a table per chunk, the same rows
        assert chunked.stdout.count("┏") == 3 and whole.stdout.count("┏") == 1
        assert table_rows(chunked.stdout) == table_rows(whole.stdout)
        assert [row[0] for row in table_rows(chunked.stdout)] == ["pos", "neg", "pos", "neg", "pos"]
        return
    assert chunked.stdout == whole.stdout
    if fmt == "json":
        records = json.loads(chunked.stdout)
        assert chunked.stdout == json.dumps(records, ensure_ascii=False, indent=2) + "\n"
        assert [r["text"] for r in records] == texts


def test_warnings_and_the_note_count_the_whole_input(trained, textclf_cli, tmp_path, chunks_of_two):
    path = tmp_path / "texts.txt"
    path.write_bytes(b"a good film\n\n" + b"word2 " * 300 + b"\n   \ncaf\xe9 awful\n\n" + b"word3 " * 100
                     + b"bad\nfine\n")
    result = textclf_cli("predict", str(trained["bundle"]), "great", "", "-i", str(path), "-f", "jsonl",
                         "-o", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    assert lines(result.stderr) == [
        "warning: skipped 1 empty texts",
        f"warning: {path} is not valid UTF-8 (first bad byte on line 5); undecodable bytes were replaced "
        f"with U+FFFD",
        f"warning: {path}: skipped 3 empty entries",
        "note: 2 of 6 texts were longer than 64 tokens and were cut, keeping the head",
        f"wrote 6 predictions to {tmp_path / 'out.jsonl'}",
    ]
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [r["text"][:11] for r in records] == ["great", "a good film", "word2 word2", "caf\ufffd awful",
                                                "word3 word3", "fine"]
    assert [r["truncated"] for r in records] == [False, False, True, False, True, False]


def test_an_input_mistake_midway_keeps_the_old_output(trained, textclf_cli, tmp_path, chunks_of_two):
    rows = tmp_path / "rows.jsonl"
    rows.write_text('{"text": "good"}\n{"text": "awful"}\n{"text": "fine"}\nnot json\n{"text": "bad"}\n')
    out = tmp_path / "out.jsonl"
    out.write_text("old predictions\n")
    result = textclf_cli("predict", str(trained["bundle"]), "-i", str(rows), "-f", "jsonl", "-o", str(out))
    assert (result.returncode, result.stdout, lines(result.stderr)) == (2, "", [
        f"error: {rows} line 4: invalid JSON (Expecting value at column 1)"])
    assert out.read_text() == "old predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.jsonl", "rows.jsonl", "site"]
    # On stdout, the chunks before the mistake were printed already (the exit status says it failed).
    printed = textclf_cli("predict", str(trained["bundle"]), "-i", str(rows), "-f", "jsonl")
    assert (printed.returncode, texts_of(printed.stdout)) == (2, ["good", "awful"])


def test_an_output_file_gets_the_usual_permissions(trained, textclf_cli, tmp_path, chunks_of_two):
    out = tmp_path / "new" / "out.json"
    result = textclf_cli("predict", str(trained["bundle"]), "good", "awful", "fine", "-f", "json", "-o", str(out))
    assert (result.returncode, lines(result.stderr)) == (0, [f"wrote 3 predictions to {out}"])
    assert [r["text"] for r in json.loads(out.read_text())] == ["good", "awful", "fine"]
    umask = os.umask(0)
    os.umask(umask)
    assert out.stat().st_mode & 0o777 == 0o666 & ~umask
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.json"]


# -- very long texts -------------------------------------------------------------------------

WORDS = [f"w{i}" for i in range(40)]


def word_level() -> Tokenizer:
    vocab = {"[UNK]": 0, "[PAD]": 1, "[CLS]": 2, "[SEP]": 3, **{w: 4 + i for i, w in enumerate(WORDS)}}
    tokenizer = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tokenizer.pre_tokenizer = pre_tokenizers.Whitespace()
    tokenizer.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]", special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
    return tokenizer


def byte_level_bpe() -> Tokenizer:
    """A RoBERTa-like subword tokenizer, trained here on a small made-up corpus."""
    tokenizer = Tokenizer(models.BPE())
    tokenizer.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    rng = random.Random(1)
    corpus = [" ".join(rng.choice(WORDS) + rng.choice(["", "ing", "ed"]) for _ in range(30)) for _ in range(200)]
    tokenizer.train_from_iterator(corpus, trainers.BpeTrainer(
        vocab_size=120, special_tokens=["<s>", "</s>"], initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A </s>", special_tokens=[("<s>", 0), ("</s>", 1)])
    return tokenizer


class Recording:
    """A tokenizer that notes the length of every text it is handed."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer, self.lengths = tokenizer, []

    def encode_batch_fast(self, texts: list[str], **kwargs: Any) -> Any:
        self.lengths.append([len(t) for t in texts])
        return self.tokenizer.encode_batch_fast(texts, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.tokenizer, name)


def recorded(tokenizer: Tokenizer, max_length: int, truncation: str) -> tuple[TextEncoder, Recording]:
    encoder = TextEncoder(tokenizer, max_length, truncation)
    recording = Recording(encoder.tokenizer)
    encoder.tokenizer = recording
    return encoder, recording


def uncut(tokenizer: Tokenizer, text: str, budget: int, truncation: str) -> list[int]:
    """What the encoder kept before the character cap: the whole text's tokens, truncated."""
    prefix, suffix = special_tokens(tokenizer)
    return prefix + truncate(tokenizer.encode(text, add_special_tokens=False).ids, budget, truncation) + suffix


@pytest.mark.parametrize("truncation", TRUNCATIONS)
@pytest.mark.parametrize("make", [word_level, byte_level_bpe])
def test_the_character_cap_keeps_the_tokens_truncation_keeps(make, truncation):
    rng = random.Random(0)
    punctuation = ["", "", "", ",", ".", "ing", "!"]
    long = " ".join(rng.choice(WORDS) + rng.choice(punctuation) for _ in range(8000))
    short = "w1 w2, w3."
    tokenizer = make()
    encoder, recording = recorded(tokenizer, 16, truncation)
    rows, cut = encoder.encode_batch_checked([long, short])
    assert rows == [uncut(tokenizer, t, encoder.budget, truncation) for t in (long, short)]
    assert cut == [True, False]
    limit = 16 * CHARS_PER_TOKEN
    assert len(long) > 40 * limit
    assert recording.lengths == [[2 * limit + 1 if truncation == "head+tail" else limit, len(short)]]


@pytest.mark.parametrize("truncation", TRUNCATIONS)
def test_a_20_mb_text_reaches_the_tokenizer_cut(truncation):
    pattern = "w1 w2, w3 w4. "
    huge = pattern * (20_000_000 // len(pattern))
    tokenizer = word_level()
    encoder, recording = recorded(tokenizer, 64, truncation)
    rows, cut = encoder.encode_batch_checked([huge])
    limit = 64 * CHARS_PER_TOKEN
    assert recording.lengths == [[2 * limit + 1 if truncation == "head+tail" else limit]]
    # The pattern repeats every 6 tokens, so 1,000 repeats end and begin as 20 MB of it does.
    assert (rows, cut) == ([uncut(tokenizer, pattern * 1000, encoder.budget, truncation)], [True])


def test_texts_at_the_cap_are_handed_over_whole():
    limit = 8 * CHARS_PER_TOKEN
    for truncation, longest in (("head", limit), ("tail", limit), ("head+tail", 2 * limit + 1)):
        encoder = TextEncoder(word_level(), 8, truncation)
        assert encoder.cap("w" * longest) == ("w" * longest, False)
        assert encoder.cap("w" * (longest + 1))[1] is True
    assert TextEncoder(word_level(), 8, "head").cap("ab" * limit) == ("ab" * (limit // 2), True)
    assert TextEncoder(word_level(), 8, "tail").cap("a" + "b" * limit) == ("b" * limit, True)
    assert TextEncoder(word_level(), 8, "head+tail").cap("a" * 300 + "b" * 300) == (
        "a" * limit + " " + "b" * limit, True)


def test_predict_a_20_mb_line(trained, textclf_cli, tmp_path):
    (tmp_path / "big.txt").write_text("great word1 " * 1_700_000 + "\nawful\n")
    result = textclf_cli("predict", str(trained["bundle"]), "-i", str(tmp_path / "big.txt"), "-f", "jsonl",
                         "-o", str(tmp_path / "out.jsonl"))
    assert result.returncode == 0, result.stderr
    assert lines(result.stderr) == [
        "note: 1 of 2 texts were longer than 64 tokens and were cut, keeping the head",
        f"wrote 2 predictions to {tmp_path / 'out.jsonl'}"]
    records = [json.loads(line) for line in (tmp_path / "out.jsonl").read_text().splitlines()]
    assert [(len(r["text"]), r["label"], r["truncated"]) for r in records] == [
        (len("great word1 ") * 1_700_000, "pos", True), (5, "neg", False)]


# -- onnxruntime failures --------------------------------------------------------------------

FAILURE = "[ONNXRuntimeError] : 6 : RUNTIME_EXCEPTION : Non-zero status code returned while running Gather node."


def test_an_onnxruntime_failure_is_one_line_and_keeps_the_old_output(trained, textclf_cli, tmp_path,
                                                                    monkeypatch, chunks_of_two):
    calls: list[int] = []
    run = onnxruntime.InferenceSession.run

    def failing_on_the_fourth_batch(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(1)
        if len(calls) == 4:
            raise RuntimeException(FAILURE)
        return run(self, *args, **kwargs)

    monkeypatch.setattr(onnxruntime.InferenceSession, "run", failing_on_the_fourth_batch)
    out = tmp_path / "out.csv"
    out.write_text("old predictions\n")
    bundle = trained["bundle"]
    result = textclf_cli("predict", str(bundle), "good", "awful", "bad awful poor", "fine", "-f", "csv",
                         "-o", str(out), "--batch-size", "1")
    assert (result.returncode, result.stdout, lines(result.stderr)) == (1, "", [
        f"error: {bundle}: onnxruntime failed to run the model on a batch of 1x3 tokens (RuntimeException: "
        f"{FAILURE}); if it ran out of memory, lower --max-batch-tokens, otherwise export the bundle again"])
    assert out.read_text() == "old predictions\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.csv", "site"]


def test_an_onnxruntime_failure_in_the_python_api(trained):
    class Failing:
        def run(self, *args: Any) -> Any:
            raise RuntimeException(f"{FAILURE}\nmore detail\n")

    bundle = runtime.load(trained["bundle"])
    bundle.session = Failing()
    with pytest.raises(runtime.PredictionError) as raised:
        bundle.predict(["good", "awful"])
    assert str(raised.value) == (
        f"{trained['bundle']}: onnxruntime failed to run the model on a batch of 2x1 tokens (RuntimeException: "
        f"{FAILURE}); if it ran out of memory, lower `max_batch_tokens`, otherwise export the bundle again")
    assert raised.value.exit_code == 1
