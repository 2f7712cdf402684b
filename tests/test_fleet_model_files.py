"""A user's model files on fleet nodes (no Ray needed): the driver's listing and digest, what a node
decides for each ship policy, and a shipped copy checked byte for byte before it is used."""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest

from bakeoff.errors import DownloadError
from bakeoff.fleet.model_files import (
    ModelFiles,
    cached_path,
    chunk_count,
    describe_files,
    holds,
    place,
    plan,
    read_chunk,
)

GGUF = b"GGUF" + bytes(range(256)) * 3  # 772 bytes


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def model_folder(root: Path) -> Path:
    folder = root / "phi-onnx"
    (folder / "sub").mkdir(parents=True)
    (folder / "genai_config.json").write_bytes(b'{"model": 1}')
    (folder / "sub" / "model.onnx").write_bytes(GGUF)
    return folder


def chunks_of(files: ModelFiles, size: int) -> Callable[[int], Iterable[bytes]]:
    return lambda i: (read_chunk(files, i, c, size) for c in range(chunk_count(files.files[i], size)))


def test_a_file_is_listed_with_its_size_and_sha256_and_that_is_its_digest(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None and not files.folder and files.name == "m.gguf"
    ((rel, size, digest),) = [(f.rel, f.size, f.sha256) for f in files.files]
    assert (rel, size, digest) == ("m.gguf", 772, sha(GGUF))
    assert files.digest == sha(GGUF) and files.size == 772
    assert describe_files("mine", tmp_path / "absent.gguf") is None


def test_a_folder_digest_is_the_sha256_of_its_listing(tmp_path: Path) -> None:
    files = describe_files("phi", model_folder(tmp_path))
    assert files is not None and files.folder and files.size == 12 + 772
    assert [f.rel for f in files.files] == ["phi-onnx/genai_config.json", "phi-onnx/sub/model.onnx"]
    config_sha = sha(b'{"model": 1}')
    listing = (
        f"phi-onnx/genai_config.json\x0012\x00{config_sha}\nphi-onnx/sub/model.onnx\x00772\x00{sha(GGUF)}\n"
    )
    assert files.digest == sha(listing.encode())


def test_a_node_holds_the_model_only_with_the_same_bytes(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None
    node = tmp_path / "node"
    node.mkdir()
    assert not holds(node / "m.gguf", files)  # absent
    (node / "m.gguf").write_bytes(GGUF[:-1] + b"\x00")  # same size, one byte off
    assert not holds(node / "m.gguf", files)
    (node / "m.gguf").write_bytes(GGUF)
    assert holds(node / "m.gguf", files)
    assert not holds(node, files)  # a folder where the model is a file


def test_a_folder_missing_one_file_is_not_the_model(tmp_path: Path) -> None:
    files = describe_files("phi", model_folder(tmp_path / "driver"))
    assert files is not None
    copy = model_folder(tmp_path / "node")
    assert holds(copy, files)
    (copy / "genai_config.json").unlink()
    assert not holds(copy, files)


def test_what_a_node_does_under_each_policy(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None
    root = tmp_path / "cache"
    own, elsewhere = tmp_path / "m.gguf", tmp_path / "nowhere.gguf"
    assert plan(files, own, "auto", root) == ("found", own)
    assert plan(files, own, "never", root) == ("found", own)
    assert plan(files, own, "always", root) == ("ship", None)  # shipped even where the node has it
    assert plan(files, elsewhere, "auto", root) == ("ship", None)
    assert plan(files, elsewhere, "never", root) == ("missing", None)
    # the driver has no copy: only the node's own can run, unchecked
    assert plan(None, own, "auto", root) == ("found", own)
    assert plan(None, elsewhere, "always", root) == ("missing", None)
    # sent before: used from the cache under auto and never, sent again under always
    kept = place(files, chunks_of(files, 100), root)
    assert kept == cached_path(files, root) == root / sha(GGUF)[:32] / "m.gguf"
    assert plan(files, elsewhere, "auto", root) == ("cached", kept)
    assert plan(files, elsewhere, "never", root) == ("cached", kept)
    assert plan(files, elsewhere, "always", root) == ("ship", None)


@pytest.mark.parametrize("size", [1, 100, 772, 10_000])
def test_a_shipped_file_arrives_byte_for_byte_whatever_the_chunk_size(tmp_path: Path, size: int) -> None:
    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None
    assert chunk_count(files.files[0], size) == -(-772 // size)
    kept = place(files, chunks_of(files, size), tmp_path / "cache")
    assert kept.read_bytes() == GGUF
    assert [p.name for p in (tmp_path / "cache").iterdir()] == [sha(GGUF)[:32]]  # no temporary left


def test_a_shipped_folder_arrives_whole(tmp_path: Path) -> None:
    files = describe_files("phi", model_folder(tmp_path / "driver"))
    assert files is not None
    kept = place(files, chunks_of(files, 64), tmp_path / "cache")
    assert kept.name == "phi-onnx" and (kept / "sub" / "model.onnx").read_bytes() == GGUF
    assert (kept / "genai_config.json").read_bytes() == b'{"model": 1}' and holds(kept, files)


def test_a_file_that_arrives_different_fails_and_leaves_nothing(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None
    root = tmp_path / "cache"

    def corrupt(i: int) -> Iterable[bytes]:
        for n, block in enumerate(chunks_of(files, 100)(i)):
            yield block if n != 3 else b"\xff" * len(block)

    with pytest.raises(DownloadError) as exc:
        place(files, corrupt, root)
    assert "mine: m.gguf arrived as 772 bytes with sha256" in exc.value.message
    assert f"the driver's is 772 bytes with sha256 {sha(GGUF)}" in exc.value.message
    assert list(root.iterdir()) == []  # no temporary, nothing in the cache
    truncated = lambda i: [GGUF[:500]]  # noqa: E731
    with pytest.raises(DownloadError, match="arrived as 500 bytes"):
        place(files, truncated, root)
    # a good copy replaces an earlier bad one at the same place
    bad = cached_path(files, root)
    bad.parent.mkdir(parents=True)
    bad.write_bytes(b"junk")
    assert plan(files, tmp_path / "nowhere", "auto", root) == ("ship", None)  # its size is wrong
    assert place(files, chunks_of(files, 100), root).read_bytes() == GGUF


def test_two_names_with_the_same_bytes_are_two_copies(tmp_path: Path) -> None:
    (tmp_path / "a.gguf").write_bytes(GGUF)
    (tmp_path / "b.gguf").write_bytes(GGUF)
    a, b = describe_files("a", tmp_path / "a.gguf"), describe_files("b", tmp_path / "b.gguf")
    assert a is not None and b is not None and a.digest == b.digest
    root = tmp_path / "cache"
    kept_a, kept_b = place(a, chunks_of(a, 100), root), place(b, chunks_of(b, 100), root)
    assert kept_a.read_bytes() == kept_b.read_bytes() == GGUF and kept_a != kept_b  # b left a alone
    assert plan(a, tmp_path / "x", "auto", root) == ("cached", kept_a)


def test_a_cached_copy_is_checked_again_before_use(tmp_path: Path) -> None:
    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None
    root = tmp_path / "cache"
    kept = place(files, chunks_of(files, 100), root)
    kept.write_bytes(GGUF[:-1] + b"\x01")  # same size, changed since it was placed
    assert plan(files, tmp_path / "nowhere", "auto", root) == ("ship", None)
    assert plan(files, tmp_path / "nowhere", "never", root) == ("missing", None)


def test_a_copy_the_node_cannot_read_is_not_its_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from bakeoff.fleet import model_files

    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None

    def unreadable(path: Path) -> str:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr(model_files, "sha256_file", unreadable)
    assert plan(files, tmp_path / "m.gguf", "auto", tmp_path / "cache") == ("ship", None)


def test_an_empty_folder_is_a_clear_error(tmp_path: Path) -> None:
    from bakeoff.errors import ConfigError

    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match=r"model 'e': .*empty is an empty folder"):
        describe_files("e", tmp_path / "empty")


def test_a_dead_transfers_leftovers_are_cleared(tmp_path: Path) -> None:
    import os
    import socket
    import subprocess

    (tmp_path / "m.gguf").write_bytes(GGUF)
    files = describe_files("mine", tmp_path / "m.gguf")
    assert files is not None
    root = tmp_path / "cache"
    gone = subprocess.Popen(["true"])
    gone.wait()
    here = socket.gethostname()
    dead = root / f".{'0' * 32}-new@{here}@{gone.pid}.part"
    live = root / f".{'1' * 32}-new@{here}@{os.getppid()}.part"  # another transfer still running
    elsewhere = root / f".{'2' * 32}-new@not-{here}@{gone.pid}.part"  # a shared cache: not judged here
    for d in (dead, live, elsewhere):
        (d / "x").mkdir(parents=True)
    place(files, chunks_of(files, 100), root)
    assert not dead.exists() and live.exists() and elsewhere.exists()


def test_a_folder_another_process_moved_in_first_is_kept_when_it_checks(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two nodes on one host place the same folder model: the second's move fails (the folder is
    there, not empty); it keeps the first's when that copy is the model, and fails when it is not."""
    import os

    from bakeoff.fleet import model_files

    files = describe_files("phi", model_folder(tmp_path / "driver"))
    assert files is not None
    root = tmp_path / "cache"
    real_replace = os.replace

    def first_in(src: str | Path, dst: str | Path) -> None:  # the other node wins the race just now
        if Path(dst) == cached_path(files, root) and Path(src).name == "phi-onnx":
            model_folder(tmp_path / "other")  # its own checked copy, moved in
            real_replace(tmp_path / "other" / "phi-onnx", dst)
            raise OSError(39, "Directory not empty")
        real_replace(src, dst)

    monkeypatch.setattr(model_files.os, "replace", first_in)
    kept = place(files, chunks_of(files, 64), root)
    assert holds(kept, files) and not list(root.glob(".*.part"))

    def wrong_first(src: str | Path, dst: str | Path) -> None:
        if Path(dst) == cached_path(files, root) and Path(src).name == "phi-onnx":
            other = model_folder(tmp_path / "wrong")
            (other / "genai_config.json").write_bytes(b'{"model": 2}')  # not the driver's
            real_replace(other, dst)
            raise OSError(39, "Directory not empty")
        real_replace(src, dst)

    monkeypatch.setattr(model_files.os, "replace", wrong_first)
    with pytest.raises(OSError, match="Directory not empty"):
        place(files, chunks_of(files, 64), root)
