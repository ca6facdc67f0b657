"""The built-in ``files`` dataset: every bad input is one line naming the file and line, and
nothing that existed before (a run, the token cache) is touched."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import plugin_sources as src
import pytest
from textclf.testing import lines, separable_texts, write_rows


GOOD = separable_texts(40)


def digest(directory: Path) -> dict[str, str]:
    return {str(p.relative_to(directory)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(directory.rglob("*")) if p.is_file()}


@pytest.fixture
def work(site, tmp_path):
    site.add("textclf-tiny", src.TINY_MODEL)
    run = tmp_path / "existing-run"
    (run / "model").mkdir(parents=True)
    (run / "config.yaml").write_text("data: files\n")
    (run / "model" / "weights").write_bytes(b"precious")
    cache = tmp_path / "cache"
    (cache / "tokens" / "abc").mkdir(parents=True)
    (cache / "tokens" / "abc" / "meta.json").write_text("{}")
    return tmp_path


def csv_file(path: Path, text: str | bytes) -> Path:
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


CASES = {
    "missing text column": (
        {"train.csv": "review,label\nfine film,pos\n"}, [],
        "{train.csv}: no column 'text' (columns: review, label); name the right one with --data.text-column"),
    "missing label column": (
        {"train.csv": "text,stars\nfine film,5\n"}, [],
        "{train.csv}: no column 'label' (columns: text, stars); name the right one with --data.label-column"),
    "too many fields": (
        {"train.csv": "text,label\nfine film,pos\nfine, film,pos\n"}, [],
        "{train.csv} line 3: 3 fields where the header has 2; quote fields that contain ','"),
    "broken quoting": (
        {"train.csv": 'text,label\n"fine film,pos\n'}, [],
        "{train.csv} line 2: malformed row (unexpected end of data)"),
    "a column named twice": (
        {"train.csv": "text,label,text\nfine film,pos,bad film\n"}, [],
        "{train.csv} line 1: the header names column 'text' more than once; give each column its own name"),
    "empty file": ({"train.csv": ""}, [], "{train.csv}: the file is empty"),
    "header only": (
        {"train.csv": "text,label\n"}, [], "{train.csv}: no examples, only a header; add rows below it"),
    "empty text": (
        {"train.csv": "text,label\nfine film,pos\n ,neg\n"}, [], "{train.csv} line 3: empty text in 'text'"),
    "empty label": (
        {"train.csv": "text,label\nfine film,\n"}, [], "{train.csv} line 2: empty label in 'label'"),
    "not utf-8": (
        {"train.csv": b"text,label\nfine film,pos\ncaf\xe9 film,neg\n"}, [],
        "{train.csv} line 3: not UTF-8 (byte 0xe9); re-save the file as UTF-8"),
    "unknown label in val": (
        {"train.csv": "GOOD", "val.csv": "text,label\nfine,pos\nmeh,neutral\n"}, ["--data.val", "{val.csv}"],
        "{val.csv} line 3: label 'neutral' does not occur in the training data (labels: neg, pos)"),
    "unknown label in test": (
        {"train.csv": "GOOD", "test.jsonl": '{"text": "meh", "label": "meh"}\n'}, ["--data.test", "{test.jsonl}"],
        "{test.jsonl} line 1: label 'meh' does not occur in the training data (labels: neg, pos)"),
    "invalid json": (
        {"train.jsonl": '{"text": "fine", "label": "pos"}\n{"text": "fine" "label": "pos"}\n'}, [],
        "{train.jsonl} line 2: invalid JSON (Expecting ',' delimiter at column 17)"),
    "json not an object": (
        {"train.jsonl": '["fine", "pos"]\n'}, [], "{train.jsonl} line 1: expected a JSON object, got list"),
    "json missing field": (
        {"train.jsonl": '{"body": "fine", "label": "pos"}\n'}, [],
        "{train.jsonl} line 1: no field 'text' (fields: body, label); name the right one with --data.text-column"),
    "json label not a string or integer": (
        {"train.jsonl": '{"text": "fine", "label": 0.5}\n'}, [],
        "{train.jsonl} line 1: label 0.5 is not a string or an integer"),
    "one label only": (
        {"train.csv": "text,label\nfine,pos\ngreat,pos\n"}, [],
        "a classifier needs at least two distinct labels, got ['pos']"),
    "unknown extension": (
        {"train.txt": "fine film\n"}, [],
        "--data.train {train.txt}: unknown file type '.txt'; use .csv, .tsv or .jsonl, or set --data.format"),
    "missing file": ({}, ["--data.train", "{nope.csv}"], "--data.train {nope.csv}: no such file"),
    "label set with a number that is not whole": (
        {"train.jsonl": '{"text": "fine", "label": ["pos", 1.5]}\n'}, [],
        "{train.jsonl} line 1: labels ['pos', 1.5] must be strings or integers"),
    "label sets naming one label in all": (
        {"train.jsonl": '{"text": "fine", "label": ["pos"]}\n{"text": "dull", "label": []}\n'}, [],
        "{train.jsonl}: the label sets name 1 label(s) in all; a classifier needs at least two"),
    "blank label delimiter": (
        {"train.csv": "GOOD"}, ["--data.label-delimiter", " "],
        "--data.label-delimiter ' ': must be a visible character or string, e.g. ';'"),
    "label set with a label train lacks": (
        {"train.jsonl": '{"text": "fine", "label": ["pos"]}\n{"text": "dull", "label": ["neg"]}\n',
         "test.jsonl": '{"text": "odd", "label": ["pos", "odd"]}\n'}, ["--data.test", "{test.jsonl}"],
        "{test.jsonl} line 1: label 'odd' does not occur in the training data (labels: neg, pos)"),
}


@pytest.mark.parametrize("case", list(CASES))
def test_bad_file_is_one_error_and_nothing_existing_changes(cli, work, case):
    files, extra, message = CASES[case]
    paths = {name: work / name for name in [*files, "nope.csv"]}
    for name, content in files.items():
        if content == "GOOD":
            write_rows(paths[name], GOOD)
        else:
            csv_file(paths[name], content)
    train = next((p for n, p in paths.items() if n.startswith("train")), paths["nope.csv"])

    def fill(text: str) -> str:
        for name, path in paths.items():
            text = text.replace("{" + name + "}", str(path))
        return text

    before = digest(work / "existing-run"), digest(work / "cache")
    result = cli("train", "--data", "files", "--data.train", str(train), *map(fill, extra),
                 "--model", "tiny", "--run-dir", str(work / "existing-run"), "--overwrite",
                 env={"TEXTCLF_CACHE": str(work / "cache")})
    assert (result.returncode, lines(result.stderr)) == (1, [f"error: {fill(message)}"])
    assert (digest(work / "existing-run"), digest(work / "cache")) == before


def test_unwritable_cache_is_one_error(cli, work):
    write_rows(work / "train.csv", GOOD)
    (work / "blocker").write_text("a file where the cache directory should be")
    result = cli("train", "--data", "files", "--data.train", str(work / "train.csv"), "--model", "tiny",
                 "--data.cache-dir", str(work / "blocker" / "cache"), "--run-dir", str(work / "r"))
    assert (result.returncode, lines(result.stderr)) == (1, [
        f"error: cannot write the token cache in {work / 'blocker' / 'cache' / 'tokens'}: Not a "
        f"directory; set --data.cache-dir or TEXTCLF_CACHE to a writable directory"])
    assert not (work / "r").exists()


def test_a_directory_where_a_file_should_be(cli, work):
    (work / "train.csv").mkdir()
    before = digest(work / "existing-run")
    result = cli("train", "--data", "files", "--data.train", str(work / "train.csv"), "--model", "tiny",
                 "--run-dir", str(work / "existing-run"), "--overwrite")
    assert (result.returncode, lines(result.stderr)) == (1, [
        f"error: --data.train {work / 'train.csv'}: is a directory, expected a file"])
    assert digest(work / "existing-run") == before


def test_a_run_directory_that_cannot_be_made(cli, work):
    write_rows(work / "train.csv", GOOD)
    (work / "blocker").write_text("a file")
    result = cli("train", "--data", "files", "--data.train", str(work / "train.csv"), "--model", "tiny",
                 "--run-dir", str(work / "blocker" / "run"), env={"TEXTCLF_CACHE": str(work / "cache")})
    assert (result.returncode, lines(result.stderr)[-1]) == (
        1, f"error: --run-dir {work / 'blocker' / 'run'}: cannot create it: Not a directory")
    assert (work / "blocker").read_text() == "a file"


def test_bad_common_options(cli, work):
    write_rows(work / "train.csv", GOOD)
    base = ["train", "--data", "files", "--data.train", str(work / "train.csv"), "--model", "tiny"]
    zero = cli(*base, "--data.batch-size", "0")
    assert lines(zero.stderr) == ["error: --data.batch-size 0: must be at least 1"]
    whole = cli(*base, "--data.val-fraction", "1")
    assert lines(whole.stderr) == ["error: --data.val-fraction 1.0: must be at least 0 and below 1"]
    weights = cli(*base, "--lit-model.class-weights", "1,2,3")
    assert (weights.returncode, lines(weights.stderr)[-1]) == (
        1, "error: --lit-model.class-weights has 3 weights for 2 labels (neg, pos); give one per label")
    warmup = cli(*base, "--lit-model.warmup-ratio", "1.5")
    assert lines(warmup.stderr)[-1] == "error: --lit-model.warmup-ratio 1.5: must be in [0, 1)"
    betas = cli(*base, "--lit-model.betas", "0.9")
    assert lines(betas.stderr)[-1] == "error: --lit-model.betas needs two values, got 1"


def test_labels_of_every_kind_parse(work):
    from textclf.data.files import Files

    write_rows(work / "ints.jsonl", [("a", 10), ("b", 2), ("c", 2)])
    assert Files(train=work / "ints.jsonl", cache_dir=work).label_names() == ["2", "10"]
    write_rows(work / "names.tsv", [("a", "b"), ("b", "a")])
    files = Files(train=work / "names.tsv", cache_dir=work)
    assert files.label_names() == ["a", "b"]
    assert files.load_split("train").texts == ["a", "b"]
    bom = csv_file(work / "bom.csv", "\ufefftext,label\nfine,pos\nbad,neg\n".encode())
    assert Files(train=bom, cache_dir=work).label_names() == ["neg", "pos"]
    crlf = csv_file(work / "crlf.csv", 'text,label\r\n"two\r\nlines",pos\r\nbad,neg\r\n')
    assert Files(train=crlf, cache_dir=work).load_split("train").texts == ["two\r\nlines", "bad"]
    assert json.dumps(Files(train=crlf, cache_dir=work).fingerprint())
