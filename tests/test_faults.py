"""Faults an unlucky user meets while training: signals, a full disk, damaged checkpoints, option
values that cannot work, an ``--overwrite`` aimed at the wrong directory, a killed parent process.
Each test reproduces the fault and checks the one line, the exit status, and that nothing was lost."""

from __future__ import annotations

import csv
import errno
import json
import os
import shutil
import signal
import sys
import time
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from textclf.testing import INTERRUPT_ENV, lines
from textclf.training import checkpoints
from textclf.training.run import checkpoint_problem
from tiny_runs import digest, resume, tiny, train, train_args  # noqa: F401 (tiny is a fixture)

# Dropout makes training draw random numbers, so an exact resume must restore the generators too.
DROPOUT = ("--model.dropout", "0.3", "--max-epochs", "3")


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "model/model.safetensors")


def assert_same_weights(a: Path, b: Path) -> None:
    x, y = weights(a), weights(b)
    assert x.keys() == y.keys()
    for name in x:
        assert torch.equal(x[name], y[name]), name


def logged(run: Path) -> list[tuple[str, ...]]:
    """Which metrics the run's CSV log holds at which epoch and step (not their values: a resumed
    epoch's averages are over the batches after the resume)."""
    with open(run / "logs/metrics.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return sorted((row["epoch"], row["step"], *sorted(k for k, v in row.items() if v)) for row in rows)


def state(run: Path) -> dict:
    return json.loads((run / "run.json").read_text())


@pytest.mark.parametrize("accumulate", [1, 2])
def test_a_stopped_run_resumes_to_the_same_weights_bit_for_bit(tiny, accumulate):
    """Stopped by a signal (saved at the end of the optimizer step under way) and by a second
    Ctrl-C (raised inside a training step), then resumed: the same weights as a straight run."""
    args = (*DROPOUT, "--accumulate-grad-batches", str(accumulate))
    steps = 36 // accumulate  # 12 batches an epoch, 3 epochs
    assert train(tiny, *args, "--run-dir", "straight").returncode == 0

    how = "SIGINT" if accumulate == 1 else "SIGTERM"
    stopped = train(tiny, *args, "--run-dir", "signalled", env={INTERRUPT_ENV: f"17:{how}"})
    step = 17 if accumulate == 1 else 9  # the signal came during batch 17, which ends step 9
    exit_code, said = (130, "interrupted") if how == "SIGINT" else (143, "stopped by SIGTERM")
    assert (stopped.returncode, lines(stopped.stderr)[-1]) == (exit_code, (
        f"error: training {said} at epoch 2, step {step}; continue it with: "
        f"textclf train --resume signalled"))
    assert (state(tiny.cwd / "signalled")["status"], state(tiny.cwd / "signalled")["step"]) == ("interrupted", step)

    # A second Ctrl-C raises inside batch 18: between optimizer steps with accumulate 1 (the state
    # is saved there), halfway through one with 2 (the last epoch's checkpoint is resumed from).
    raised = train(tiny, *args, "--run-dir", "raised", env={INTERRUPT_ENV: "18:raise"})
    assert raised.returncode == 130, raised.stderr
    assert state(tiny.cwd / "raised")["status"] == "interrupted"

    for run in ("signalled", "raised"):
        resumed = resume(tiny, run)
        assert resumed.returncode == 0, resumed.stderr
        assert f"run: {run} (resumed from its last checkpoint)" in resumed.stderr
        assert f"epoch 3/3  step {steps}" in resumed.stderr
        assert_same_weights(tiny.cwd / "straight", tiny.cwd / run)
        a, b = (json.loads((tiny.cwd / name / "metrics.json").read_text()) for name in ("straight", run))
        assert (b["steps"], b["val"], b["test"], b["confusion_matrix"]) == (
            a["steps"], a["val"], a["test"], a["confusion_matrix"])
        assert (state(tiny.cwd / run)["status"], state(tiny.cwd / run)["step"]) == ("completed", steps)
        assert state(tiny.cwd / run)["epoch"] == 3 and "error" not in state(tiny.cwd / run)
        # Logged at the same steps as the straight run: nothing counted twice or skipped.
        assert logged(tiny.cwd / run) == logged(tiny.cwd / "straight")


def test_a_full_disk_fails_the_run_keeps_the_last_checkpoint_and_resume_works(tiny, cli, monkeypatch):
    real_save, calls = torch.save, []

    def save(obj, handle, *args, **kwargs):
        calls.append(handle)
        if len(calls) == 3:  # epoch 2's first checkpoint: half written, then the disk is full
            handle.write(b"PK\x03\x04 half a checkpoint")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_save(obj, handle, *args, **kwargs)

    monkeypatch.setattr(checkpoints.torch, "save", save)
    env = {"TEXTCLF_CACHE": str(tiny.cache)}
    full = cli(*train_args(tiny), "--max-epochs", "3", "--run-dir", "full", env=env, cwd=tiny.cwd)
    monkeypatch.setattr(checkpoints.torch, "save", real_save)

    assert full.returncode == 1
    assert lines(full.stderr)[-1] == (
        "error: full/checkpoints/best.ckpt: cannot write the checkpoint (No space left on device); the previous one is kept; make room "
        "(or fix permissions), then continue with: textclf train --resume full")
    assert "Traceback" not in full.stderr
    run = tiny.cwd / "full"
    assert state(run)["status"] == "failed" and "No space left" in state(run)["error"]
    assert sorted(p.name for p in (run / "checkpoints").iterdir()) == ["best.ckpt", "last.ckpt"]
    assert checkpoint_problem(run / "checkpoints/last.ckpt") is None

    resumed = cli("train", "--resume", "full", env=env, cwd=tiny.cwd)
    assert resumed.returncode == 0, resumed.stderr
    assert state(run)["status"] == "completed" and "error" not in state(run)


def test_a_damaged_last_checkpoint_resumes_from_the_best_one(tiny):
    # Stopped by SLURM's pre-emption warning, which stops training as Ctrl-C and SIGTERM do.
    cut = train(tiny, "--max-epochs", "3", "--run-dir", "cut", env={INTERRUPT_ENV: "30:SIGUSR1"})
    assert (cut.returncode, lines(cut.stderr)[-1]) == (128 + signal.SIGUSR1, (
        "error: training stopped by SIGUSR1 at epoch 3, step 30; continue it with: textclf train --resume cut"))
    last = tiny.cwd / "cut/checkpoints/last.ckpt"

    both = tiny.cwd / "both"
    shutil.copytree(tiny.cwd / "cut", both)
    for name in ("last.ckpt", "best.ckpt"):
        path = both / "checkpoints" / name
        path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    before = digest(both)
    refused = resume(tiny, "both")
    assert (refused.returncode, lines(refused.stderr)) == (2, [
        "error: --resume both: no whole checkpoint to continue from (last.ckpt is damaged (File is "
        "not a zip file); best.ckpt is damaged (File is not a zip file)); start it again with "
        "--config both/config.yaml --run-dir both --overwrite (see 'textclf train --help')"])
    assert digest(both) == before

    last.write_bytes(last.read_bytes()[:1000])
    resumed = resume(tiny, "cut")
    assert resumed.returncode == 0, resumed.stderr
    assert "warning: last.ckpt is damaged (File is not a zip file); continuing from best.ckpt instead" \
        in lines(resumed.stderr)
    assert state(tiny.cwd / "cut")["status"] == "completed"


BOMB = """\
data:
  name: files
  batch_size: [&a [x, x, x, x, x, x, x, x, x], &b [*a, *a, *a, *a, *a, *a, *a, *a, *a],
               &c [*b, *b, *b, *b, *b, *b, *b, *b, *b], &d [*c, *c, *c, *c, *c, *c, *c, *c, *c],
               [*d, *d, *d, *d, *d, *d, *d, *d, *d]]
"""


@pytest.mark.parametrize("args, code, line", [
    (["--max-epochs", "-3"], 1, "--max-epochs -3: must be at least 1 (or -1: no limit)"),
    (["--max-steps", "0"], 1, "--max-steps 0: must be at least 1 (or -1: no limit)"),
    (["--max-epochs", "-1", "--max-steps", "-1"], 1,
     "--max-epochs -1 with --max-steps -1 would train forever; limit one of them"),
    (["--accumulate-grad-batches", "0"], 1, "--accumulate-grad-batches 0: must be at least 1"),
    (["--num-nodes", "0"], 1, "--num-nodes 0: must be at least 1"),
    (["--early-stopping", "0"], 1, "--early-stopping 0: must be at least 1 (or none: never)"),
    (["--seed", "-1"], 1, "--seed -1: must be 0 to 4294967295"),
    (["--gradient-clip", "-1"], 1, "--gradient-clip -1.0: must be above 0 (or none: no clipping)"),
    (["--val-check-interval", "0"], 1,
     "--val-check-interval 0.0: must be a fraction of an epoch in (0, 1], or a whole number of batches"),
    (["--devices", "-5"], 1, "--devices -5: give a count (2), -1 for all, device indices (0,1) or auto"),
    (["--devices", "0"], 1, "--devices 0: give a count (2), -1 for all, device indices (0,1) or auto"),
    (["--devices", "99"], 1, f"--devices 99: this machine has {os.cpu_count()} CPU cores; use at most "
                             f"{os.cpu_count()}"),
    (["--devices", "2"], 1, "--devices 2 on the CPU means 2 training processes; say how they share the "
                            "work with --strategy ddp (or ddp_spawn)"),
    (["--strategy", "bogus"], 1,
     "--strategy bogus: not a Lightning strategy (for example ddp, ddp_spawn, fsdp); see Lightning's "
     "documentation"),
    (["--lit-model.lr", "inf"], 1, "--lit-model.lr inf: must be a finite number above 0"),
    (["--lit-model.lr", "nan"], 1, "--lit-model.lr nan: must be a finite number above 0"),
    (["--lit-model.lr", "0"], 1, "--lit-model.lr 0.0: must be a finite number above 0"),
    (["--lit-model.weight-decay", "-1"], 1, "--lit-model.weight-decay -1.0: must be a finite number at least 0"),
    (["--lit-model.label-smoothing", "1"], 1, "--lit-model.label-smoothing 1.0: must be in [0, 1)"),
    (["--model.max-length", "2"], 1, "--model.max-length 2: must be at least 3 (the text's tokens and a "
                                     "tokenizer's special tokens around them)"),
    (["--model.max-length", "-3"], 1, "--model.max-length -3: must be at least 3 (the text's tokens and "
                                      "a tokenizer's special tokens around them)"),
    (["--data.num-workers", "-1"], 1, "--data.num-workers -1: must be at least 0 (0: the main process)"),
    (["--config", "inf.yaml"], 2, "--config inf.yaml: data: batch_size: 'inf' is not a valid integer"),
    (["--config", "list.yaml"], 2, "--config list.yaml: data: batch_size: expected a single value, got a list"),
    (["--config", "bomb.yaml"], 2, "--config bomb.yaml: data: batch_size: expected a single value, got a list"),
], ids=lambda value: " ".join(value) if isinstance(value, list) else None)
def test_an_option_value_that_cannot_work_is_one_line_before_anything_is_written(tiny, cli, args, code, line):
    (tiny.cwd / "inf.yaml").write_text("data:\n  name: files\n  batch_size: .inf\n")
    (tiny.cwd / "list.yaml").write_text("data:\n  name: files\n  batch_size: [16, 32]\n")
    (tiny.cwd / "bomb.yaml").write_text(BOMB)
    result = cli(*train_args(tiny), *args, "--run-dir", "run", env={"TEXTCLF_CACHE": str(tiny.cache)},
                 cwd=tiny.cwd)
    assert (result.returncode, lines(result.stderr)[-1]) == (code, f"error: {line}")
    assert "Traceback" not in result.stderr
    assert not (tiny.cwd / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without a CUDA GPU")
def test_a_gpu_that_is_not_there_is_one_line(tiny, cli):
    result = cli(*train_args(tiny), "--accelerator", "gpu", "--run-dir", "run", cwd=tiny.cwd)
    assert (result.returncode, lines(result.stderr)[-1]) == (1, (
        f"error: --accelerator gpu: this machine has no CUDA GPU that torch {torch.__version__} can use; "
        f"train with --accelerator cpu"))
    assert not (tiny.cwd / "run").exists()


def test_precision_is_checked_against_lightnings_list(tiny, cli):
    result = cli(*train_args(tiny), "--precision", "bogus", "--run-dir", "run", cwd=tiny.cwd)
    assert result.returncode == 2
    assert lines(result.stderr)[-1].startswith("error: Invalid value for '--precision': 'bogus' is not one of "
                                               "'auto', '32-true', 'bf16-mixed'")
    assert not (tiny.cwd / "run").exists()


@pytest.mark.parametrize("what, line", [
    ("a directory", "--run-dir precious: exists and is not a textclf run (no config.yaml or run.json in it); "
                    "--overwrite replaces only runs, so choose another --run-dir"),
    ("a file", "Invalid value for '--run-dir': Directory 'precious' is a file. (see 'textclf train --help')"),
])
def test_overwrite_replaces_only_a_run(tiny, cli, what, line):
    precious = tiny.cwd / "precious"
    if what == "a directory":
        precious.mkdir()
        (precious / "thesis.tex").write_text("years of work")
    else:
        precious.write_text("years of work")
    before = digest(precious) if precious.is_dir() else precious.read_text()
    result = cli(*train_args(tiny), "--run-dir", "precious", "--overwrite", cwd=tiny.cwd)
    assert (result.returncode, lines(result.stderr)) == (2, [f"error: {line}"])
    assert (digest(precious) if precious.is_dir() else precious.read_text()) == before


def test_overwrite_replaces_a_run_or_an_empty_directory(tiny, cli):
    env = {"TEXTCLF_CACHE": str(tiny.cache)}
    (tiny.cwd / "empty").mkdir()
    assert cli(*train_args(tiny), "--max-epochs", "1", "--run-dir", "empty", "--overwrite", env=env,
               cwd=tiny.cwd).returncode == 0
    again = cli(*train_args(tiny), "--max-epochs", "1", "--run-dir", "empty", "--overwrite", env=env, cwd=tiny.cwd)
    assert again.returncode == 0, again.stderr
    assert state(tiny.cwd / "empty")["status"] == "completed"


def test_the_model_weights_get_the_same_permissions_as_the_rest_of_the_run(tiny, cli):
    assert cli(*train_args(tiny), "--max-epochs", "1", "--run-dir", "run",
               env={"TEXTCLF_CACHE": str(tiny.cache)}, cwd=tiny.cwd).returncode == 0
    mode = (tiny.cwd / "run/config.yaml").stat().st_mode & 0o777
    for path in (tiny.cwd / "run/model").iterdir():
        assert path.stat().st_mode & 0o777 == mode, path.name


def _children_of(pid: int) -> list[int]:
    """The processes a training started: they carry its process id in TEXTCLF_MAIN_PID."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != pid:
            try:
                environ = (entry / "environ").read_bytes().split(b"\0")
            except OSError:
                continue
            if f"TEXTCLF_MAIN_PID={pid}".encode() in environ:
                found.append(int(entry.name))
    return found


@pytest.mark.skipif(not sys.platform.startswith("linux") or (os.cpu_count() or 1) < 2,
                    reason="needs Linux (/proc, PR_SET_PDEATHSIG) and two CPU cores")
def test_worker_processes_die_with_their_parent(tiny):
    import subprocess

    env = tiny.env(TEXTCLF_CACHE=str(tiny.cache))
    parent = subprocess.Popen([*[sys.executable, "-m", "textclf"], *train_args(tiny)[0:],
                               "--devices", "2", "--strategy", "ddp", "--max-epochs", "1000",
                               "--run-dir", "ddp"], cwd=tiny.cwd, env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while not (children := _children_of(parent.pid)) and time.monotonic() < deadline:
            assert parent.poll() is None, "training ended before it started a worker"
            time.sleep(0.2)
        assert children, "no worker process appeared"
        time.sleep(3)  # the worker is past its set-up: training
    finally:
        parent.kill()
        parent.wait()
    deadline = time.monotonic() + 15
    while (alive := [pid for pid in children if Path(f"/proc/{pid}").exists() and _running(pid)]) \
            and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not alive, f"workers {alive} outlived their parent"


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "State:\tZ" not in status  # a zombie has ended; only its exit status is left


def test_a_signal_while_evaluating_stops_the_run_and_resume_finishes_it(tiny, cli, monkeypatch):
    from textclf.training import pipeline

    real = pipeline.evaluate

    def evaluate(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGTERM)  # handled: becomes a stop of the run, not of pytest
        return real(*args, **kwargs)

    env = {"TEXTCLF_CACHE": str(tiny.cache)}
    monkeypatch.setattr(pipeline, "evaluate", evaluate)
    stopped = cli(*train_args(tiny), "--max-epochs", "2", "--run-dir", "r", env=env, cwd=tiny.cwd)
    monkeypatch.setattr(pipeline, "evaluate", real)
    assert (stopped.returncode, lines(stopped.stderr)[-1]) == (143, (
        "error: stopped by SIGTERM while evaluating the trained model; finish it with: "
        "textclf train --resume r"))
    assert state(tiny.cwd / "r")["status"] == "interrupted"
    assert not (tiny.cwd / "r/metrics.json").exists()

    finished = cli("train", "--resume", "r", env=env, cwd=tiny.cwd)
    assert finished.returncode == 0, finished.stderr
    assert state(tiny.cwd / "r")["status"] == "completed" and (tiny.cwd / "r/metrics.json").is_file()
