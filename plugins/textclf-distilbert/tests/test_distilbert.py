"""The distilbert model: from scratch, from a checkpoint directory, and back into transformers."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
import torch
import yaml
from tokenizers import Tokenizer
from transformers import (AutoModelForSequenceClassification, AutoTokenizer, BertConfig, BertModel)

from textclf.testing import lines, separable_texts
from textclf_distilbert.model import DistilBERT
from textclf_distilbert.tokenizer import PREFIX, as_transformers, train_wordpiece, wordpiece_vocab
from textclf_imdb.synthetic import write_archive

TINY = ["--model.dim", "32", "--model.layers", "2", "--model.heads", "2"]


@pytest.fixture(scope="module")
def tokenizer_file(tmp_path_factory) -> Path:
    """A WordPiece tokenizer built in the test, saved as tokenizer.json."""
    texts = [t for t, _ in separable_texts(400)] + ["wonderful superb dreadful boring film movie"] * 5
    path = tmp_path_factory.mktemp("tok") / "tokenizer.json"
    train_wordpiece(texts, vocab_size=600).save(str(path))
    return path


@pytest.fixture(scope="module")
def bert_checkpoint(tmp_path_factory, tokenizer_file) -> Path:
    """A tiny randomly initialised BERT saved as a Hugging Face checkpoint directory."""
    from tokenizers import Tokenizer

    directory = tmp_path_factory.mktemp("tiny-bert")
    backend = Tokenizer.from_file(str(tokenizer_file))
    config = BertConfig(vocab_size=backend.get_vocab_size(), hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=64)
    BertModel(config).save_pretrained(directory)
    as_transformers(backend).save_pretrained(directory)
    return directory


def test_tiny_distilbert_trains_end_to_end_on_imdb_format_data(textclf_site, tokenizer_file, tmp_path):
    archive = tmp_path / "aclImdb_v1.tar.gz"
    write_archive(archive, 150, seed=5, cues=12, mean_words=60)
    result = textclf_site.run(
        "train", "--data", "imdb", "--data.path", str(archive), "--data.batch-size", "16",
        "--model", "distilbert", "--model.pretrained", "false", "--model.tokenizer", str(tokenizer_file),
        *TINY, "--model.max-length", "128", "--lit-model.lr", "2e-3", "--max-epochs", "8",
        "--run-dir", "run", env={"TEXTCLF_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    run = tmp_path / "run"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["test"]["acc"] > 0.8, metrics  # chance is 0.5
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["model"]["name"] == "textclf-distilbert:distilbert"
    assert config["model"]["truncation"] == "head+tail" and config["trainer"]["max_epochs"] == 8

    # The run's model is a plain Hugging Face directory, and gives the same logits there.
    hf = AutoModelForSequenceClassification.from_pretrained(run / "model").eval()
    hf_tokenizer = AutoTokenizer.from_pretrained(run / "model")
    assert hf.config.id2label == {0: "neg", 1: "pos"} and hf.config.label2id == {"neg": 0, "pos": 1}
    ours = DistilBERT.load(run / "model").eval()
    text = "a wonderful superb film, " * 40
    ids = torch.tensor([ours.encoder.encode(text)])
    assert ids.shape[1] == 128 and ids[0, 0] == hf_tokenizer.cls_token_id and ids[0, -1] == hf_tokenizer.sep_token_id
    with torch.no_grad():
        expected = hf(input_ids=ids, attention_mask=torch.ones_like(ids)).logits
        assert torch.allclose(ours(ids, torch.ones_like(ids)), expected, atol=1e-6)
    short = hf_tokenizer("a dreadful film", return_tensors="pt")
    assert short.input_ids[0].tolist() == ours.encoder.encode("a dreadful film")

    tested = textclf_site.run("test", "run", "--json", env={"TEXTCLF_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert json.loads(tested.stdout)["test"] == pytest.approx(metrics["test"], abs=1e-5)

    # Exported with onnxruntime's fused attention, the bundle still gives PyTorch's answers.
    exported = textclf_site.run("export", "run", "--output", "bundle", "--quantize", "int8",
                                env={"TEXTCLF_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert exported.returncode == 0, exported.stderr
    manifest = json.loads((tmp_path / "bundle" / "textclf.json").read_text())
    assert manifest["producer"]["ort_fusions"]["attention"] == 2  # one per layer
    assert manifest["checks"]["parity"]["max_logit_difference"] <= 1e-4
    from textclf import runtime

    with torch.no_grad():
        probabilities = torch.softmax(ours(ids, torch.ones_like(ids)), -1)[0].tolist()
    assert runtime.load(tmp_path / "bundle").predict_proba([text])[0] == pytest.approx(probabilities, abs=0.05)


def test_a_bert_checkpoint_directory_loads_and_trains(textclf_cli, bert_checkpoint, tmp_path):
    train, _ = _write_files(tmp_path)
    result = textclf_cli("train", "--data", "files", "--data.train", str(train), "--model", "distilbert",
                         "--model.checkpoint", str(bert_checkpoint), "--max-epochs", "1",
                         "--run-dir", str(tmp_path / "run"), env={"TEXTCLF_CACHE": str(tmp_path / "c")})
    assert result.returncode == 0, result.stderr
    # The checkpoint allows 64 positions: the default 512 is capped to it.
    assert "max length 64, truncation head+tail" in result.stderr
    saved = json.loads((tmp_path / "run" / "model" / "config.json").read_text())
    assert saved["model_type"] == "bert" and saved["id2label"] == {"0": "neg", "1": "pos"}
    assert AutoModelForSequenceClassification.from_pretrained(tmp_path / "run" / "model").num_labels == 2


def test_each_truncation_strategy_keeps_what_it_promises(tokenizer_file):
    model_args = dict(labels=["neg", "pos"], pretrained=False, tokenizer=tokenizer_file,
                      dim=16, layers=1, heads=2, max_length=10)
    text = " ".join(f"word{i}" for i in range(40))
    full = DistilBERT(**model_args).tokenizer.encode(text, add_special_tokens=False).ids
    cls, sep = (DistilBERT(**model_args).tokenizer.token_to_id(t) for t in ("[CLS]", "[SEP]"))
    kept = {t: DistilBERT(**model_args, truncation=t).encoder.encode(text) for t in ("head", "tail", "head+tail")}
    assert kept["head"] == [cls, *full[:8], sep]
    assert kept["tail"] == [cls, *full[-8:], sep]
    assert kept["head+tail"] == [cls, *full[:2], *full[-6:], sep]


def test_training_options_reach_the_model(bert_checkpoint):
    model = DistilBERT(["a", "b", "c"], checkpoint=str(bert_checkpoint), dropout=0.3,
                       freeze_encoder=True, gradient_checkpointing=True, compile=True)
    assert model.hf.config.hidden_dropout_prob == 0.3 and model.hf.config.attention_probs_dropout_prob == 0.3
    trainable = {n for n, p in model.hf.named_parameters() if p.requires_grad}
    assert trainable == {"classifier.weight", "classifier.bias"}
    assert getattr(model.hf, "is_activation_checkpointing", None) or model.hf.is_gradient_checkpointing
    assert model.training and all(m.training for m in model.hf.modules())  # dropout on while training
    assert model._compiled_forward is not None
    assert not any(k.startswith("_compiled") for k in model.state_dict())  # one copy of the weights
    assert model.hf.config._attn_implementation == "sdpa"
    model.eval()
    ids = torch.tensor([model.encoder.encode("wonderful film")])
    assert model(ids, torch.ones_like(ids)).shape == (1, 3)  # evaluation runs the plain module


def test_the_recipe_is_suggested_and_the_user_wins(textclf_cli, tmp_path):
    train, _ = _write_files(tmp_path)
    base = ["train", "--data", "files", "--data.train", str(train), "--model", "distilbert", "--print-config"]
    pretrained = yaml.safe_load(textclf_cli(*base).stdout)
    assert (pretrained["lit_model"]["lr"], pretrained["lit_model"]["warmup_ratio"]) == (2e-5, 0.1)
    assert (pretrained["trainer"]["max_epochs"], pretrained["data"]["batch_size"]) == (2, 32)
    assert (pretrained["model"]["max_length"], pretrained["model"]["truncation"]) == (512, "head+tail")
    scratch = yaml.safe_load(textclf_cli(*base, "--model.pretrained", "false").stdout)
    assert (scratch["lit_model"]["lr"], scratch["trainer"]["max_epochs"]) == (1e-3, 5)
    mine = yaml.safe_load(textclf_cli(*base, "--lit-model.lr", "3e-5", "--max-epochs", "4").stdout)
    assert (mine["lit_model"]["lr"], mine["trainer"]["max_epochs"]) == (3e-5, 4)


def test_unreachable_hub_names_the_way_out(textclf_cli, tmp_path):
    train, _ = _write_files(tmp_path)
    result = textclf_cli("train", "--data", "files", "--data.train", str(train), "--model", "distilbert",
                         "--run-dir", str(tmp_path / "run"), env={"TEXTCLF_CACHE": str(tmp_path / "c")})
    assert (result.returncode, lines(result.stderr)[-1]) == (1, (
        "error: --model.checkpoint distilbert-base-uncased: cannot load it from the Hugging Face hub, "
        "which cannot be reached, and it is not in the local cache; download it where there is "
        "network and pass the directory with --model.checkpoint DIR, or train from scratch with "
        "--model.pretrained false"))
    assert not (tmp_path / "run").exists()
    missing = textclf_cli("train", "--data", "files", "--data.train", str(train), "--model", "distilbert",
                          "--model.checkpoint", str(tmp_path / "nowhere"), "--run-dir", str(tmp_path / "run"))
    assert lines(missing.stderr)[-1].startswith(
        f"error: --model.checkpoint {tmp_path / 'nowhere'}: not a usable checkpoint directory (")


def test_bad_model_options_are_one_line_and_keep_an_existing_run(textclf_cli, tmp_path):
    train, _ = _write_files(tmp_path)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("precious")
    (tmp_path / "junk.json").write_text("not a tokenizer")
    base = ["train", "--data", "files", "--data.train", str(train), "--model", "distilbert",
            "--model.pretrained", "false", "--run-dir", str(run), "--overwrite"]
    cases = [
        (("--model.dim", "30", "--model.heads", "4"), "error: --model.dim 30 must be a multiple of --model.heads 4"),
        (("--model.tokenizer", str(tmp_path / "none.json")),
         f"error: --model.tokenizer {tmp_path / 'none.json'}: no such tokenizer.json"),
    ]
    for args, message in cases:
        result = textclf_cli(*base, *args, env={"TEXTCLF_CACHE": str(tmp_path / "c")})
        assert (result.returncode, lines(result.stderr)[-1]) == (1, message)
    junk = textclf_cli(*base, "--model.tokenizer", str(tmp_path / "junk.json"), env={"TEXTCLF_CACHE": str(tmp_path / "c")})
    assert junk.returncode == 1 and lines(junk.stderr)[-1].startswith(
        f"error: --model.tokenizer {tmp_path / 'junk.json'}: not a tokenizers JSON file (")
    assert sorted(p.name for p in run.iterdir()) == ["config.yaml"] and (run / "config.yaml").read_text() == "precious"


def _tied_texts(seed: int = 0) -> list[str]:
    """Texts whose words all occur equally often: many pairs of pieces tie, so tokenizers'
    WordPieceTrainer learns a different vocabulary on nearly every run."""
    rng = random.Random(seed)
    letters = "abcdefghijkl"
    words = sorted({"".join(rng.choice(letters) for _ in range(rng.randint(4, 8))) for _ in range(600)})
    stream = words * 5
    rng.shuffle(stream)
    return [" ".join(stream[i:i + 20]) for i in range(0, len(stream), 20)]


def test_the_trained_tokenizer_is_the_same_in_every_process(tmp_path):
    texts = _tied_texts()
    ours = tmp_path / "here.json"
    train_wordpiece(texts, 250).save(str(ours))
    assert train_wordpiece(texts, 250).to_str() == Tokenizer.from_file(str(ours)).to_str()
    (tmp_path / "texts.json").write_text(json.dumps(texts))
    script = ("import json, sys\nfrom textclf_distilbert.tokenizer import train_wordpiece\n"
              "train_wordpiece(json.load(open(sys.argv[1])), 250).save(sys.argv[2])\n")
    for run, (seed, threads, parallel) in enumerate([("1", "1", "false"), ("2", "2", "true")]):
        env = {**os.environ, "PYTHONHASHSEED": seed, "RAYON_NUM_THREADS": threads,
               "TOKENIZERS_PARALLELISM": parallel}
        theirs = tmp_path / f"run{run}.json"
        done = subprocess.run([sys.executable, "-c", script, str(tmp_path / "texts.json"), str(theirs)],
                              env=env, capture_output=True, text=True, timeout=120)
        assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
        assert theirs.read_bytes() == ours.read_bytes()


def test_the_trained_tokenizer_is_bert_style_and_follows_its_texts():
    tokenizer = train_wordpiece(_tied_texts(), 250)
    assert [tokenizer.id_to_token(i) for i in range(5)] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
    assert tokenizer.get_vocab_size() == 250
    word = tokenizer.encode("ABCDEFABCDEF").tokens  # an unseen word: known pieces, lower-cased
    assert word[0] == "[CLS]" and word[-1] == "[SEP]" and len(word) > 3 and "[UNK]" not in word
    assert all(piece.startswith(PREFIX) for piece in word[2:-1]) and not word[1].startswith(PREFIX)
    assert "".join(piece.removeprefix(PREFIX) for piece in word[1:-1]) == "abcdefabcdef"
    assert tokenizer.encode("xyz", add_special_tokens=False).tokens == ["[UNK]"]  # unseen characters
    other = train_wordpiece(_tied_texts(seed=1), 250)
    assert set(other.get_vocab()) != set(tokenizer.get_vocab())
    assert set(train_wordpiece(_tied_texts()[:-1], 250).get_vocab()) != set(tokenizer.get_vocab())


def test_training_the_tokenizer_prints_nothing(capfd):
    train_wordpiece(_tied_texts(), 250)
    assert capfd.readouterr() == ("", "")


def test_models_built_from_the_same_texts_have_the_same_tokenizer():
    texts = _tied_texts()
    models = [DistilBERT(["neg", "pos"], train_texts=texts, pretrained=False, dim=16, layers=1,
                         heads=2, vocab_size=250) for _ in range(2)]
    assert models[0].tokenizer.to_str() == models[1].tokenizer.to_str()
    assert models[0].hf.config.vocab_size == 250


def test_the_vocabulary_is_what_plain_byte_pair_merging_gives():
    """The incremental pair counts against recounting every pair before each merge."""
    rng = random.Random(0)
    for _ in range(200):
        letters = rng.choice(["ab", "aab", "abc", "abcdef"])
        counts = Counter({"".join(rng.choice(letters) for _ in range(rng.randint(1, 9))): rng.randint(1, 4)
                          for _ in range(rng.randint(1, 30))})
        size = rng.randint(3, 60)
        assert wordpiece_vocab(counts, size, ["[UNK]"]) == _plain_merges(counts, size, ["[UNK]"])


def _plain_merges(counts: Counter, size: int, special: list[str]) -> dict[str, int]:
    ids = {token: i for i, token in enumerate(special)}
    chars = sorted({c for word in counts for c in word})
    for token in chars + [PREFIX + c for c in sorted({c for word in counts for c in word[1:]})]:
        ids.setdefault(token, len(ids))
    words = {word: [word[0], *(PREFIX + c for c in word[1:])] for word in counts}
    while len(ids) < size:
        pairs = Counter()
        for word, pieces in words.items():
            for pair in zip(pieces, pieces[1:]):
                pairs[pair] += counts[word]
        if not pairs:
            break
        a, b = min(pairs, key=lambda pair: (-pairs[pair], ids[pair[0]], ids[pair[1]]))
        ids.setdefault(a + b[len(PREFIX):], len(ids))
        for word, pieces in words.items():
            merged, i = [], 0
            while i < len(pieces):
                if pieces[i:i + 2] == [a, b]:
                    merged.append(a + b[len(PREFIX):])
                    i += 2
                else:
                    merged.append(pieces[i])
                    i += 1
            words[word] = merged
    return ids


def _write_files(tmp_path: Path) -> tuple[Path, Path]:
    from textclf.testing import write_rows

    rows = separable_texts(120)
    write_rows(tmp_path / "train.csv", rows[:100])
    write_rows(tmp_path / "test.csv", rows[100:])
    return tmp_path / "train.csv", tmp_path / "test.csv"


@pytest.mark.parametrize("multi_label, problem_type", [(True, "multi_label_classification"),
                                                       (False, "single_label_classification")])
def test_plain_transformers_loads_the_task(bert_checkpoint, tmp_path, multi_label, problem_type):
    model = DistilBERT(["drama", "comedy", "horror"], checkpoint=str(bert_checkpoint))
    model.multi_label = multi_label
    model.save(tmp_path / "model")
    loaded = AutoModelForSequenceClassification.from_pretrained(tmp_path / "model")
    assert loaded.config.problem_type == problem_type
    assert loaded.config.id2label == {0: "drama", 1: "comedy", 2: "horror"}
    assert DistilBERT.load(tmp_path / "model").multi_label is multi_label
    if multi_label:  # transformers' own loss for the task: a sigmoid cross-entropy per label
        ids = torch.tensor([model.encoder.encode("wonderful film")])
        out = loaded(input_ids=ids, labels=torch.tensor([[1.0, 0.0, 1.0]]))
        assert out.loss is not None and out.logits.shape == (1, 3)
