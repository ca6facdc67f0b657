"""``textclf train`` / ``textclf test`` end to end: a tiny model learns a separable task."""

from __future__ import annotations

import json

import pytest
import torch
import yaml
from textclf.testing import lines, separable_texts, write_rows
from tiny_runs import digest, tiny, train  # noqa: F401 (tiny is a fixture)



def test_tiny_model_learns_the_task_and_the_run_holds_everything(tiny):
    result = train(tiny, "--run-dir", "runs/first")
    assert result.returncode == 0, result.stderr
    run = tiny.cwd / "runs/first"
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["val"]["acc"] > 0.9 and metrics["test"]["acc"] > 0.9
    assert metrics["confusion_matrix"]["labels"] == ["neg", "pos"]
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == 100
    assert metrics["epochs"] == 5 and metrics["train_samples_per_second"] > 0
    for path in ("config.yaml", "run.json", "checkpoints/best.ckpt", "checkpoints/last.ckpt",
                 "model/textclf_model.json", "model/model.safetensors", "model/tokenizer.json",
                 "logs/metrics.csv"):
        assert (run / path).is_file(), path
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["plugins"] == {"textclf": "0.1.0", "textclf-tiny": "1.0"}
    assert config["data"]["name"] == "textclf:files" and config["model"]["name"] == "textclf-tiny:tiny"
    assert config["lit_model"]["lr"] == 0.05  # suggested by the model
    assert config["trainer"]["max_epochs"] == 5 and config["trainer"]["precision"] == "32-true"
    assert json.loads((run / "run.json").read_text())["status"] == "completed"
    # Finished: best.ckpt keeps the weights only; last.ckpt can still be trained on.
    best, last = (torch.load(run / "checkpoints" / name, weights_only=False) for name in ("best.ckpt", "last.ckpt"))
    assert "optimizer_states" not in best and "optimizer_states" in last
    assert best["state_dict"].keys() == last["state_dict"].keys()

    assert "data: files, 360 train / 40 val / 100 test (tokenized in" in result.stderr
    assert "epoch 5/5  step 60" in result.stderr
    assert "│ accuracy │" in result.stdout and "confusion matrix, test" in result.stdout

    tested = tiny.run("test", "runs/first", "--json", env={"TEXTCLF_CACHE": str(tiny.cache)}, cwd=tiny.cwd)
    assert tested.returncode == 0, tested.stderr
    assert json.loads(tested.stdout)["test"] == pytest.approx(metrics["test"], abs=1e-5)
    val = tiny.run("test", "runs/first", "--split", "val", "--json",
                   env={"TEXTCLF_CACHE": str(tiny.cache)}, cwd=tiny.cwd)
    assert json.loads(val.stdout)["val"] == pytest.approx(metrics["val"], abs=1e-5)


def test_second_run_reuses_the_token_cache_and_a_run_config_reproduces_the_run(tiny):
    assert train(tiny, "--run-dir", "runs/a").returncode == 0
    entries = sorted(p.name for p in (tiny.cache / "tokens").iterdir())
    assert len(entries) == 1 and not entries[0].startswith(".tmp")
    again = tiny.run("train", "--config", "runs/a/config.yaml", "--run-dir", "runs/b",
                     env={"TEXTCLF_CACHE": str(tiny.cache)}, cwd=tiny.cwd)
    assert again.returncode == 0, again.stderr
    assert "(cached tokens)" in again.stderr
    assert sorted(p.name for p in (tiny.cache / "tokens").iterdir()) == entries
    first = json.loads((tiny.cwd / "runs/a/metrics.json").read_text())
    second = json.loads((tiny.cwd / "runs/b/metrics.json").read_text())
    assert first["test"] == second["test"] and first["val"] == second["val"]


def test_command_line_beats_the_models_suggestion(tiny):
    result = train(tiny, "--run-dir", "r", "--lit-model.lr", "0.2", "--max-epochs", "1", "--print-config")
    config = yaml.safe_load(result.stdout)
    assert config["lit_model"]["lr"] == 0.2 and config["trainer"]["max_epochs"] == 1


def test_resume_refuses_what_it_cannot_do(tiny):
    assert train(tiny, "--run-dir", "done", "--max-epochs", "1").returncode == 0
    env = {"TEXTCLF_CACHE": str(tiny.cache)}

    finished = tiny.run("train", "--resume", "done", env=env, cwd=tiny.cwd)
    assert (finished.returncode, lines(finished.stderr)) == (2, [
        "error: --resume done: that run has finished; start a new one with --config "
        "done/config.yaml to reuse its options (see 'textclf train --help')"])

    missing = tiny.run("train", "--resume", "nowhere", env=env, cwd=tiny.cwd)
    assert (missing.returncode, lines(missing.stderr)) == (2, [
        "error: --resume nowhere: not a textclf run (no such directory)"])

    state = json.loads((tiny.cwd / "done/run.json").read_text())
    (tiny.cwd / "done/run.json").write_text(json.dumps({**state, "status": "interrupted"}))
    changed = tiny.run("train", "--resume", "done", "--data.batch-size", "8", "--max-epochs", "9",
                       env=env, cwd=tiny.cwd)
    assert (changed.returncode, lines(changed.stderr)) == (2, [
        "error: --resume continues a run with its own config, so --max-epochs, --data.batch-size "
        "cannot change it (only the hardware may: --accelerator, --devices, --num-nodes, "
        "--precision, --strategy) (see 'textclf train --help')"])

    before = digest(tiny.cwd / "done")
    original = tiny.data["train"].read_text()
    tiny.data["train"].write_text(original + "a brand new kind of review,neutral\n")
    relabelled = tiny.run("train", "--resume", "done", env=env, cwd=tiny.cwd)
    assert (relabelled.returncode, lines(relabelled.stderr)[-1]) == (1, (
        "error: done/model: the model's labels (neg, pos) differ from the data's (neg, neutral, "
        "pos); the data changed since the run started"))
    assert digest(tiny.cwd / "done") == before
    tiny.data["train"].write_text(original)

    (tiny.cwd / "done/checkpoints/last.ckpt").unlink()
    (tiny.cwd / "done/checkpoints/best.ckpt").unlink()
    no_checkpoint = tiny.run("train", "--resume", "done", env=env, cwd=tiny.cwd)
    assert (no_checkpoint.returncode, lines(no_checkpoint.stderr)) == (2, [
        "error: --resume done: no checkpoint to continue from (it stopped before its first one); "
        "start it again with --config done/config.yaml --run-dir done --overwrite "
        "(see 'textclf train --help')"])
    unfinished = tiny.run("test", "done", env=env, cwd=tiny.cwd)
    assert (unfinished.returncode, lines(unfinished.stderr)) == (2, [
        "error: done: the run has not finished (status: interrupted); continue it with "
        "textclf train --resume done"])


def test_a_run_whose_model_is_gone(tiny):
    assert train(tiny, "--run-dir", "gone", "--max-epochs", "1").returncode == 0
    import shutil

    env = {"TEXTCLF_CACHE": str(tiny.cache)}
    (tiny.cwd / "gone" / "model" / "textclf_model.json").write_text("{ not json")
    damaged = tiny.run("test", "gone", env=env, cwd=tiny.cwd)
    assert damaged.returncode == 1 and lines(damaged.stderr)[-1].startswith(
        "error: gone/model/textclf_model.json: unreadable (") and lines(damaged.stderr)[-1].endswith(
        "); the model directory is damaged")
    shutil.rmtree(tiny.cwd / "gone" / "model")
    result = tiny.run("test", "gone", env=env, cwd=tiny.cwd)
    assert (result.returncode, lines(result.stderr)[-1]) == (
        1, "error: gone/model: no textclf_model.json; is it a model saved by textclf?")
    (tiny.cwd / "gone" / "config.yaml").write_text("data: [unclosed\n")
    config = tiny.run("test", "gone", env=env, cwd=tiny.cwd)
    assert config.returncode == 1 and lines(config.stderr)[-1].startswith(
        "error: gone/config.yaml: unreadable (") and lines(config.stderr)[-1].endswith("); the run is damaged")


def test_an_existing_run_is_never_overwritten_unless_asked(tiny):
    assert train(tiny, "--run-dir", "keep", "--max-epochs", "1").returncode == 0
    before = digest(tiny.cwd / "keep")
    again = train(tiny, "--run-dir", "keep", "--max-epochs", "1")
    assert (again.returncode, lines(again.stderr)) == (2, [
        "error: --run-dir keep: already exists; choose another --run-dir, continue it with "
        "--resume keep, or replace it with --overwrite"])
    assert digest(tiny.cwd / "keep") == before

    replaced = train(tiny, "--run-dir", "keep", "--max-epochs", "2", "--overwrite")
    assert replaced.returncode == 0, replaced.stderr
    assert json.loads((tiny.cwd / "keep/metrics.json").read_text())["epochs"] == 2


def test_data_parallel_on_two_cpu_processes(tiny):
    result = train(tiny, "--run-dir", "ddp", "--accelerator", "cpu", "--devices", "2",
                   "--strategy", "ddp", "--max-epochs", "8")
    assert result.returncode == 0, result.stderr
    metrics = json.loads((tiny.cwd / "ddp/metrics.json").read_text())
    assert metrics["steps"] == 8 * 6  # 360 rows, 32 a batch, half the batches on each process
    assert metrics["test"]["acc"] > 0.9
    assert sum(map(sum, metrics["confusion_matrix"]["matrix"])) == 100  # gathered from both
    assert result.stdout.count("confusion matrix, test") == 1  # one summary, from rank 0


def test_jsonl_and_tsv_files_with_integer_labels(tiny, tmp_path):
    rows = [(text, 1 if label == "pos" else 0) for text, label in separable_texts(500)]
    write_rows(tmp_path / "train.jsonl", rows[:400], text_column="review", label_column="stars")
    write_rows(tmp_path / "val.tsv", rows[400:], text_column="review", label_column="stars")
    result = tiny.run("train", "--data", "files", "--data.train", str(tmp_path / "train.jsonl"),
                      "--data.val", str(tmp_path / "val.tsv"), "--data.text-column", "review",
                      "--data.label-column", "stars", "--model", "tiny", "--run-dir", "ints",
                      env={"TEXTCLF_CACHE": str(tiny.cache)}, cwd=tiny.cwd)
    assert result.returncode == 0, result.stderr
    assert "data: files, 400 train / 100 val (tokenized in" in result.stderr
    assert "labels: 0, 1" in result.stderr
    metrics = json.loads((tiny.cwd / "ints/metrics.json").read_text())
    assert metrics["val"]["acc"] > 0.9 and "test" not in metrics
    assert metrics["confusion_matrix"]["split"] == "val"
    no_test = tiny.run("test", "ints", env={"TEXTCLF_CACHE": str(tiny.cache)}, cwd=tiny.cwd)
    assert (no_test.returncode, lines(no_test.stderr)[-1]) == (
        2, "error: ints: the run's data has no test split; evaluate --split val instead")


def test_training_without_a_validation_split(tiny):
    result = train(tiny, "--data.val-fraction", "0", "--max-epochs", "2", "--run-dir", "noval")
    assert result.returncode == 0, result.stderr
    assert "data: files, 400 train / 100 test" in result.stderr
    metrics = json.loads((tiny.cwd / "noval/metrics.json").read_text())
    assert "val" not in metrics and metrics["monitor"] is None
    assert metrics["best_checkpoint"] == "checkpoints/last.ckpt" and metrics["test"]["acc"] > 0.5
