"""The imdb data module: download, resume, verification, safe reading, cache reuse, bad input."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
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


@pytest.fixture
def extracted(archive, tmp_path) -> Path:
    """The session's archive extracted: the aclImdb directory."""
    with tarfile.open(archive[0]) as tar:
        tar.extractall(tmp_path / "extracted", filter="data")
    return tmp_path / "extracted" / "aclImdb"


def damaged(message: str, path: Path) -> str:
    """What a user is told about an archive that is corrupted or cut short."""
    return (f"{path}: cannot read the archive ({message}); it is corrupted or truncated: delete it "
            f"and run again to download it afresh, or pass a good copy with `path`")


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


def header_offsets(tar_bytes: bytes) -> tuple[dict[str, int], int]:
    """Where each member's header starts in an uncompressed tar, and where its last member ends."""
    with tarfile.open(fileobj=io.BytesIO(tar_bytes)) as tar:
        members = tar.getmembers()
    last = members[-1]
    return {m.name: m.offset for m in members}, last.offset_data + -(-last.size // 512) * 512


def first_review(offsets: dict[str, int], folder: str) -> str:
    return min((name for name in offsets if name.startswith(folder + "/")), key=offsets.__getitem__)


@pytest.mark.parametrize("where", [
    "inside the test reviews", "before test/pos", "before the end-of-archive marker",
    "after one block of the end-of-archive marker", "junk instead of a header"])
def test_an_archive_cut_at_a_tar_header_is_refused_and_nothing_cached(archive, tmp_path, where):
    """A tar cut between members and recompressed is a valid gzip that tarfile reads as a shorter
    archive: part of the test reviews were cached as all of them, or "test/pos has no reviews"."""
    tar_bytes = gzip.decompress(archive[0].read_bytes())
    offsets, end = header_offsets(tar_bytes)
    test_reviews = sorted((n for n in offsets if n.startswith("aclImdb/test/") and n.endswith(".txt")),
                          key=offsets.__getitem__)
    cut = {"inside the test reviews": offsets[test_reviews[len(test_reviews) // 2]],
           "before test/pos": offsets["aclImdb/test/pos"],
           "before the end-of-archive marker": end,
           "after one block of the end-of-archive marker": end + 512,
           "junk instead of a header": offsets[first_review(offsets, "aclImdb/test/pos")]}[where]
    junk = where == "junk instead of a header"
    tar_bytes = tar_bytes[:cut] + b"junk" * 128 + tar_bytes[cut + 512:] if junk else tar_bytes[:cut]
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(gzip.compress(tar_bytes))
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=path, cache_dir=tmp_path / "cache").prepare_data()
    detail = f"invalid header at byte {cut}" if junk else "unexpected end of data"
    assert str(refused.value) == damaged(f"ReadError: {detail}", path)
    assert cached_reviews(tmp_path / "cache") == []


@pytest.mark.parametrize(("damage", "detail"), [
    ("crc", "ReadError: CRC check failed 0x"),
    ("length", "ReadError: Incorrect length of data produced"),
    ("trailer cut", "ReadError: unexpected end of data"),
    ("deflate block", "ReadError: zlib error: Error -3 while decompressing data: invalid block type"),
    ("bytes changed mid-way", "ReadError: "),
])
def test_a_damaged_gzip_stream_is_refused_and_nothing_cached(archive, tmp_path, damage, detail):
    """gzip's CRC and length trailer is checked: the whole stream is read to its end."""
    data = bytearray(gzip.compress(gzip.decompress(archive[0].read_bytes()), mtime=0))
    if damage == "crc":
        data[-8] ^= 0xFF
    elif damage == "length":
        data[-1] ^= 0x01
    elif damage == "trailer cut":
        del data[-4:]
    elif damage == "deflate block":
        data[10] |= 0b110  # the first block's type (bits 1-2 after the 10-byte header): 3 is none
    else:  # either a CRC or a zlib error, depending on what the changed bytes decode to
        data[len(data) // 2:len(data) // 2 + 64] = b"\xff" * 64
    path = tmp_path / "aclImdb_v1.tar.gz"
    path.write_bytes(bytes(data))
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=path, cache_dir=tmp_path / "cache").prepare_data()
    message = str(refused.value)
    prefix, suffix = damaged(detail, path).split(detail)
    # gzip's or zlib's own text (with CRCs) sits between the stable prefix and suffix
    assert message.startswith(prefix + detail) and message.endswith(suffix)
    if damage == "bytes changed mid-way":
        assert message[len(prefix + detail):].startswith(("CRC check failed ", "zlib error: "))
    assert cached_reviews(tmp_path / "cache") == []


def huge_member_archive(path: Path, name: str, size: int) -> None:
    """An aclImdb archive whose member ``name`` claims ``size`` bytes but holds a few: a reader
    that tried to read it would fail with "unexpected end of data" instead of refusing it."""
    header = io.BytesIO()
    with tarfile.open(fileobj=header, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("aclImdb"))
    info = tarfile.TarInfo(name)
    info.size, info.mode = size, 0o644
    start = header.getvalue()[:512]  # the directory's header, without the end-of-archive marker
    path.write_bytes(gzip.compress(start + info.tobuf(tarfile.GNU_FORMAT) + b"great film. " * 100))


def test_a_huge_review_member_is_refused_without_being_read(tmp_path):
    path = tmp_path / "aclImdb_v1.tar.gz"
    huge_member_archive(path, "aclImdb/train/pos/0_9.txt", 3 << 30)
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=path, cache_dir=tmp_path / "cache").prepare_data()
    assert str(refused.value) == (
        f"{path}: refusing the archive: member 'aclImdb/train/pos/0_9.txt' is 3,221,225,472 bytes, "
        f"over the 1,048,576-byte limit for one review; this is not a genuine aclImdb_v1.tar.gz")
    assert cached_reviews(tmp_path / "cache") == []


def test_the_review_size_limit_is_exact(tmp_path):
    assert store.MAX_REVIEW_BYTES == 1 << 20
    at_limit, over = (tmp_path / f"{n}.tar.gz" for n in ("at", "over"))
    write_archive(at_limit, 3, extra=[Member("aclImdb/train/pos/900_9.txt", data=b"a" * (1 << 20))])
    write_archive(over, 3, extra=[Member("aclImdb/train/pos/900_9.txt", data=b"a" * ((1 << 20) + 1))])
    train = IMDB(path=at_limit, cache_dir=tmp_path / "cache").load_split("train")
    assert (len(train.texts), max(map(len, train.texts))) == (7, 1 << 20)
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=over, cache_dir=tmp_path / "cache").prepare_data()
    assert str(refused.value) == (
        f"{over}: refusing the archive: member 'aclImdb/train/pos/900_9.txt' is 1,048,577 bytes, "
        f"over the 1,048,576-byte limit for one review; this is not a genuine aclImdb_v1.tar.gz")
    assert len(cached_reviews(tmp_path / "cache")) == 1  # the good one's only


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


def test_a_directory_is_read_again_when_any_review_in_it_changes(extracted, tmp_path, logs):
    """The cache of a directory is keyed on every review file's name, size and mtime: an edit
    deep down is seen, an untouched directory is not read again."""
    def test_texts() -> list[str]:
        return IMDB(path=extracted, cache_dir=tmp_path / "cache", keep_html=True).load_split("test").texts

    before = test_texts()
    assert len(cached_reviews(tmp_path / "cache")) == 1
    logs.clear()
    assert test_texts() == before and logs.records == []

    review = sorted((extracted / "test" / "neg").iterdir())[0]
    text = review.read_text()
    edited = ("X" + text[1:]) if text[0] != "X" else ("Y" + text[1:])  # same size
    review.write_text(edited)
    os.utime(review, ns=(review.stat().st_atime_ns, review.stat().st_mtime_ns + 1_000_000_000))
    after_edit = test_texts()
    assert edited in after_edit and text not in after_edit and len(after_edit) == len(before)

    (extracted / "test" / "pos" / "99999_10.txt").write_text("a late review")
    assert test_texts() == after_edit + ["a late review"]  # the highest id of the last label
    assert len(cached_reviews(tmp_path / "cache")) == 3


@pytest.mark.parametrize("linked", ["train/pos", "test"])
def test_a_linked_sub_directory_is_refused(extracted, tmp_path, linked):
    outside = tmp_path / "outside" / linked
    outside.parent.mkdir(parents=True)
    (extracted / linked).rename(outside)
    (outside / ("1_10.txt" if linked == "train/pos" else "pos/1_10.txt")).write_text("not from aclImdb")
    (extracted / linked).symlink_to(outside, target_is_directory=True)
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=extracted, cache_dir=tmp_path / "cache").prepare_data()
    assert str(refused.value) == (
        f"{extracted / linked}: refusing a directory that is a link (to '{outside}'); the reviews "
        f"must be inside {extracted}: copy them there instead of linking them")
    assert cached_reviews(tmp_path / "cache") == []


def test_linked_reviews_must_stay_inside_and_the_root_may_be_a_link(extracted, tmp_path):
    """A link to a review inside the directory, or a link to the aclImdb directory itself, is
    read; a review linked from outside is refused."""
    inside = extracted / "train" / "pos" / "90000_9.txt"
    inside.symlink_to(sorted((extracted / "test" / "pos").iterdir())[0])
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "aclImdb").symlink_to(extracted, target_is_directory=True)
    train = IMDB(path=tmp_path / "data", cache_dir=tmp_path / "cache").load_split("train")
    assert len(train.texts) == 241

    (tmp_path / "elsewhere.txt").write_text("not from aclImdb")
    outside = extracted / "train" / "neg" / "90001_1.txt"
    outside.symlink_to(tmp_path / "elsewhere.txt")
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=extracted, cache_dir=tmp_path / "cache2").prepare_data()
    assert str(refused.value) == (
        f"{outside}: refusing a link that points outside {extracted}; copy the file there instead "
        f"of linking it")
    assert cached_reviews(tmp_path / "cache2") == []


def test_a_huge_review_file_is_refused_without_being_read(extracted, tmp_path):
    huge = extracted / "test" / "neg" / "90000_1.txt"
    with huge.open("wb") as sparse:  # 3 GiB on paper, no blocks on disk
        sparse.truncate(3 << 30)
    with pytest.raises(store.ReviewsError) as refused:
        IMDB(path=extracted, cache_dir=tmp_path / "cache").prepare_data()
    assert str(refused.value) == (
        f"{huge}: refusing a review of 3,221,225,472 bytes, over the 1,048,576-byte limit for one "
        f"review; this is not an aclImdb review: remove it, or pass a genuine aclImdb directory "
        f"with `path`")
    assert cached_reviews(tmp_path / "cache") == []


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


def test_write_archive_takes_a_str_path_as_well_as_a_path(tmp_path):
    as_str = tmp_path / "str" / "aclImdb_v1.tar.gz"
    as_path = tmp_path / "path" / "aclImdb_v1.tar.gz"
    sha = write_archive(str(as_str), 2, seed=4)
    assert sha == write_archive(as_path, 2, seed=4)
    assert hashlib.sha256(as_str.read_bytes()).hexdigest() == sha
    with tarfile.open(as_str) as tar:
        assert "aclImdb/train/pos" in tar.getnames()
