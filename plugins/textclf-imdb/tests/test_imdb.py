"""The imdb data module: download, resume, verification, safe reading, cache reuse, bad input."""

from __future__ import annotations

import hashlib
import json
import logging
import tarfile
from pathlib import Path

import pytest

from textclf import DownloadError, download
from textclf.testing import TINY_MODEL_PLUGIN, lines
from textclf_imdb import reviews as store
from textclf_imdb.data import IMDB
from textclf_imdb.synthetic import Member, write_archive


TINY_MODEL = TINY_MODEL_PLUGIN


def files_under(directory: Path) -> list[str]:
    return sorted(str(p.relative_to(directory)) for p in directory.rglob("*") if p.is_file())


def cached_reviews(cache: Path) -> list[str]:
    """Entries of the IMDB reviews cache under ``cache`` (none when it was never created)."""
    reviews = cache / "imdb" / "reviews"
    return sorted(p.name for p in reviews.iterdir()) if reviews.exists() else []


@pytest.fixture
def logs(caplog):
    caplog.set_level(logging.INFO, logger="textclf")
    return caplog


def test_first_run_downloads_verifies_and_reads_once_then_reuses_the_cache(server, archive, tmp_path, logs):
    data = IMDB(url=server.url, sha256=archive[1], cache_dir=tmp_path)
    data.prepare_data()
    size = f"{archive[0].stat().st_size / 1000:.1f} KB"
    messages = [r.getMessage() for r in logs.records]
    assert messages[0] == f"downloading {server.url} ({size})"
    assert messages[1].startswith(f"downloaded {size} in ") and messages[1].endswith(" s, SHA-256 verified")
    assert messages[2].startswith("imdb: reading ") and messages[2].endswith(" (once)")
    assert server.requests == [None]
    assert files_under(tmp_path / "imdb" / "downloads") == [f"{archive[1][:16]}-aclImdb_v1.tar.gz"]

    train, test = data.load_split("train"), data.load_split("test")
    assert (len(train.texts), sum(train.labels), len(test.texts)) == (240, 120, 240)
    assert data.load_split("val") is None
    assert data.label_names() == ["neg", "pos"]
    assert "<br" not in " ".join(train.texts)
    ratings = data.ratings("train")
    assert all(r <= 4 for r, y in zip(ratings, train.labels) if y == 0)
    assert all(r >= 7 for r, y in zip(ratings, train.labels) if y == 1)

    logs.clear()
    again = IMDB(url=server.url, sha256=archive[1], cache_dir=tmp_path)
    again.prepare_data()
    assert again.load_split("train") == train
    assert server.requests == [None] and logs.records == []  # no download, no re-reading


def test_progress_bar_on_a_terminal(server, archive, tmp_path, capsys):
    download(server.url, tmp_path / "a.tar.gz", sha256=archive[1], progress=True)
    [bar] = [line for line in capsys.readouterr().err.splitlines() if line.startswith("a.tar.gz ")]
    size = f"{len(server.content) / 1000:.1f}"
    assert bar.startswith("a.tar.gz ━") and f"{size}/{size} kB" in bar


def test_a_cut_connection_resumes_where_it_stopped(server, archive, tmp_path, logs):
    cut = len(server.content) // 3
    server.cut_after = [cut]
    data = IMDB(url=server.url, sha256=archive[1], cache_dir=tmp_path, retries=2)
    data.prepare_data()
    assert server.requests == [None, f"bytes={cut}-"]
    messages = [r.getMessage() for r in logs.records]
    assert any(m.startswith("download interrupted (connection closed after ") for m in messages)
    assert f"resuming {server.url} at {cut / 1000:.1f} KB of {len(server.content) / 1000:.1f} KB" in messages
    assert len(data.load_split("test").texts) == 240


def test_a_partial_file_from_an_earlier_run_is_resumed(server, archive, tmp_path):
    downloads = tmp_path / "imdb" / "downloads"
    downloads.mkdir(parents=True)
    half = len(server.content) // 2
    (downloads / f"{archive[1][:16]}-aclImdb_v1.tar.gz.part").write_bytes(server.content[:half])
    IMDB(url=server.url, sha256=archive[1], cache_dir=tmp_path).prepare_data()
    assert server.requests == [f"bytes={half}-"]
    archive_file = downloads / f"{archive[1][:16]}-aclImdb_v1.tar.gz"
    assert hashlib.sha256(archive_file.read_bytes()).hexdigest() == archive[1]


def test_server_errors_are_retried_and_client_errors_are_not(server, archive, tmp_path):
    server.fail_with = [503]
    IMDB(url=server.url, sha256=archive[1], cache_dir=tmp_path, retries=1).prepare_data()
    assert len(server.requests) == 2
    with pytest.raises(DownloadError) as missing:
        IMDB(url=server.url.replace("aclImdb", "nothing"), cache_dir=tmp_path / "x").prepare_data()
    assert str(missing.value) == (
        f"cannot download {server.url.replace('aclImdb', 'nothing')}: the server answered 404 Not Found")
    assert len(server.requests) == 3


def test_checksum_mismatch_keeps_nothing(server, tmp_path):
    with pytest.raises(DownloadError) as mismatch:
        IMDB(url=server.url, sha256="0" * 64, cache_dir=tmp_path).prepare_data()
    actual = hashlib.sha256(server.content).hexdigest()
    assert str(mismatch.value) == (
        f"{server.url}: the download's SHA-256 is {actual}, expected {'0' * 64}; the file was "
        f"corrupted on the way or the server sends another file (deleted it; run again, or set "
        f"the right `sha256` for a mirror)")
    assert files_under(tmp_path) == []


def test_corrupted_and_truncated_archives(server, archive, tmp_path):
    server.content = b"this is not a gzip file" * 100
    garbage_sha = hashlib.sha256(server.content).hexdigest()
    with pytest.raises(store.ReviewsError) as corrupted:
        IMDB(url=server.url, sha256=garbage_sha, cache_dir=tmp_path / "a").prepare_data()
    assert "cannot read the archive (ReadError:" in str(corrupted.value)
    assert str(corrupted.value).endswith("it is corrupted or truncated: delete it and run again to "
                                         "download it afresh, or pass a good copy with `path`")
    assert not (tmp_path / "a" / "imdb" / "reviews").exists()

    truncated = tmp_path / "truncated.tar.gz"
    truncated.write_bytes(archive[0].read_bytes()[: archive[0].stat().st_size // 2])
    with pytest.raises(store.ReviewsError, match=r"cannot read the archive \(ReadError: unexpected end of data\)"):
        IMDB(path=truncated, cache_dir=tmp_path / "b").prepare_data()
    assert cached_reviews(tmp_path / "b") == []


@pytest.mark.parametrize(("member", "why"), [
    (Member("aclImdb/../../evil.txt", data=b"x"), "climbs out with '..'"),
    (Member("/tmp/evil.txt", data=b"x"), "is an absolute path"),
    (Member("aclImdb/train/pos/link_9.txt", kind="symlink", target="/etc/passwd"),
     "is a link (to '/etc/passwd')"),
    (Member("aclImdb/train/pos/hard_9.txt", kind="hardlink", target="../../outside"),
     "is a link (to '../../outside')"),
])
def test_members_that_would_land_outside_are_refused(tmp_path, member, why):
    path = tmp_path / "evil.tar.gz"
    write_archive(path, 3, extra=[member])
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=path, cache_dir=tmp_path / "cache").prepare_data()
    assert str(refused.value) == (
        f"{path}: refusing the archive: member '{member.name}' {why} and would land outside its "
        f"directory; this is not a genuine aclImdb_v1.tar.gz")
    assert not (tmp_path / "evil.txt").exists() and not Path("/tmp/evil.txt").exists()
    assert cached_reviews(tmp_path / "cache") == []


def test_path_takes_the_archive_or_the_extracted_directory(archive, tmp_path):
    from_archive = IMDB(path=archive[0], cache_dir=tmp_path / "a")
    with tarfile.open(archive[0]) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    for path in (tmp_path / "extracted", tmp_path / "extracted" / "aclImdb"):
        from_directory = IMDB(path=path, cache_dir=tmp_path / "b")
        for split in ("train", "test"):
            assert from_directory.load_split(split) == from_archive.load_split(split)
            assert from_directory.ratings(split) == from_archive.ratings(split)


def test_limits_take_stratified_samples_and_html_can_be_kept(archive, tmp_path):
    data = IMDB(path=archive[0], cache_dir=tmp_path, limit_train=40, limit_test=10, keep_html=True)
    train, test = data.load_split("train"), data.load_split("test")
    assert (len(train.texts), sum(train.labels), len(test.texts), sum(test.labels)) == (40, 20, 10, 5)
    assert any("<br /><br />" in t for t in train.texts)


def test_bad_directories_and_empty_splits(archive, tmp_path):
    with tarfile.open(archive[0]) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    root = tmp_path / "x" / "aclImdb"
    for review in (root / "test" / "neg").iterdir():
        review.unlink()
    with pytest.raises(store.ReviewsError) as empty:
        IMDB(path=root, cache_dir=tmp_path / "c").prepare_data()
    assert str(empty.value) == f"{root}: test/neg has no reviews; the dataset is incomplete"
    (root / "train" / "pos").rename(root / "train" / "positive")
    with pytest.raises(store.ReviewsError) as missing:
        IMDB(path=root, cache_dir=tmp_path / "c").prepare_data()
    assert str(missing.value) == (
        f"{root}: not an aclImdb directory: train/pos is missing; pass the aclImdb directory "
        f"extracted from aclImdb_v1.tar.gz, or the archive itself")


def test_unwritable_cache_directory(archive, server, tmp_path):
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be")
    with pytest.raises(DownloadError) as download_error:
        IMDB(url=server.url, sha256=archive[1], cache_dir=blocker / "cache").prepare_data()
    assert str(download_error.value) == (
        f"cannot write to {blocker / 'cache' / 'imdb' / 'downloads'}: Not a directory; set "
        f"`cache_dir` or TEXTCLF_CACHE to a writable directory")
    with pytest.raises(store.ReviewsError) as read_error:
        IMDB(path=archive[0], cache_dir=blocker / "cache").prepare_data()
    assert str(read_error.value).startswith(
        f"cannot write the IMDB cache in {blocker / 'cache' / 'imdb' / 'reviews'}: Not a directory")


def test_no_network_names_the_way_out(tmp_path, textclf_site, textclf_cli):
    textclf_site.add("textclf-tiny", TINY_MODEL)
    result = textclf_cli("train", "--data", "imdb", "--data.url", "http://127.0.0.1:9/aclImdb_v1.tar.gz",
                         "--data.retries", "0", "--data.cache-dir", str(tmp_path), "--model", "tiny")
    assert result.returncode == 1
    assert lines(result.stderr)[-1] == (
        "error: cannot download http://127.0.0.1:9/aclImdb_v1.tar.gz: connection refused; without "
        "network, get aclImdb_v1.tar.gz elsewhere and pass it, or the aclImdb directory inside it, "
        "with --data.path")
    assert not any(tmp_path.rglob("*.tar.gz"))


def test_train_end_to_end_from_a_download(textclf_site, serve, tmp_path):
    """``textclf train --data imdb`` as a user runs it, the archive coming over HTTP."""
    textclf_site.add("textclf-tiny", TINY_MODEL)
    archive = tmp_path / "aclImdb_v1.tar.gz"
    sha = write_archive(archive, 150, seed=3, cues=12)
    served = serve(archive.read_bytes())
    result = textclf_site.run(
        "train", "--data", "imdb", "--data.url", served.url, "--data.sha256", sha,
        "--model", "tiny", "--model.max-length", "512", "--model.truncation", "head+tail",
        "--run-dir", "run", env={"TEXTCLF_CACHE": str(tmp_path / "cache")}, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert f"downloading {served.url}" in result.stderr
    assert "data: imdb, 270 train / 30 val / 300 test" in result.stderr
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["test"]["acc"] > 0.8
    assert metrics["confusion_matrix"]["labels"] == ["neg", "pos"]


def test_an_unresolvable_host_fails_at_once_without_retrying(tmp_path, monkeypatch):
    import socket
    import time

    def no_network(*args, **kwargs):  # what a machine without network answers; no query leaves it
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_network)
    start = time.perf_counter()
    with pytest.raises(DownloadError) as offline:
        IMDB(url="http://no-such-host.invalid/aclImdb_v1.tar.gz", cache_dir=tmp_path).prepare_data()
    assert time.perf_counter() - start < 5  # not 1 + 2 + 4 + 8 + 16 s of backoff
    assert str(offline.value) == (
        "cannot download http://no-such-host.invalid/aclImdb_v1.tar.gz: cannot resolve the host name "
        "(no network?); without network, get aclImdb_v1.tar.gz elsewhere and pass it, or the aclImdb "
        "directory inside it, with `path`")


def test_bad_options_are_one_line_and_keep_an_existing_run(textclf_site, textclf_cli, archive, tmp_path):
    textclf_site.add("textclf-tiny", TINY_MODEL)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("precious")
    base = ["train", "--data", "imdb", "--model", "tiny", "--run-dir", str(run), "--overwrite",
            "--data.cache-dir", str(tmp_path / "cache")]
    small = textclf_cli(*base, "--data.path", str(archive[0]), "--data.limit-train", "1")
    assert (small.returncode, lines(small.stderr)) == (
        1, ["error: --data.limit-train 1: must be at least 2 (one per label)"])
    missing = textclf_cli(*base, "--data.path", str(tmp_path / "nope.tar.gz"))
    assert (missing.returncode, lines(missing.stderr)) == (
        1, [f"error: --data.path {tmp_path / 'nope.tar.gz'}: no such file or directory"])
    assert (run / "config.yaml").read_text() == "precious"
