"""Model lifecycle from the command line: list, download, cache, import, run and doctor, on the real
PyPI-shipped models (offline), plus the hub path up to the network boundary."""

from __future__ import annotations

import importlib.util
import json
import shutil
from pathlib import Path

import pytest

from bakeoff.models import embedded
from tests.conftest import needs
from tests.test_cli import run

SMOL = embedded.EMBEDDED["smollm2-135m"]
HAS_LLAMA = importlib.util.find_spec("llama_cpp") is not None
needs_engine = needs(HAS_LLAMA, "llama-cpp-python", "BAKEOFF_REQUIRE_REALMODEL")


@pytest.fixture()
def fresh(tmp_path: Path) -> dict[str, str]:
    """An empty bakeoff cache (models are assembled again from the installed PyPI packages)."""
    # HOME too: Foundry Local keeps its local catalog (registered models) under it
    return {"BAKEOFF_CACHE": str(tmp_path / "cache"), "HOME": str(tmp_path)}


@pytest.fixture(scope="module")
def smol_file() -> Path:
    return embedded.ensure(SMOL)


def test_list_download_cache_remove_round_trip(fresh: dict[str, str], tmp_path: Path) -> None:
    r = run("models", "list", env=fresh)
    assert r.returncode == 0, r.stderr
    for alias in embedded.EMBEDDED:
        assert alias[:12] in r.stdout
    assert "98 MB*" in r.stdout and "download size" in r.stdout and "pypi" in r.stdout

    r = run("models", "download", "smollm2-135m", env=fresh)
    assert r.returncode == 0, r.stderr
    assert "assembled and sha256-verified" in r.stdout
    cached = tmp_path / "cache" / "models" / "smollm2-135m" / SMOL.file_name
    assert cached.stat().st_size == SMOL.size_bytes
    r = run("models", "download", "smollm2-135m", env=fresh)
    assert "already cached" in r.stdout

    r = run("models", "list", "--cached", env=fresh)
    assert "smollm2-135m" in r.stdout and "gemma3-270m" not in r.stdout
    r = run("models", "cache", "list", env=fresh)
    assert (
        r.returncode == 0
        and "smollm2-135m" in r.stdout
        and "98 MB" in r.stdout
        and "1 models, 98 MB" in r.stdout
    )
    r = run("models", "cache", "location", env=fresh)
    assert str(tmp_path / "cache" / "models") in r.stdout.replace("\n", "")
    r = run("models", "cache", "remove", "smollm2-135m", env=fresh)
    assert r.returncode == 0 and "removed" in r.stdout and not cached.exists()
    r = run("models", "cache", "list", env=fresh)
    assert "0 models, 0 MB" in r.stdout
    r = run("models", "cache", "shred", env=fresh)
    assert r.returncode == 2 and "unknown action" in r.stderr


def test_import_gguf_registers_it_and_leaves_the_file_alone(
    fresh: dict[str, str], smol_file: Path, tmp_path: Path
) -> None:
    mine = tmp_path / "mine.gguf"
    shutil.copy(smol_file, mine)
    r = run("models", "import", str(mine), "--name", "my-smol", env=fresh)
    assert r.returncode == 0, r.stderr
    assert "registered" in r.stdout and "bakeoff bench --models my-smol" in r.stdout
    reg = json.loads((tmp_path / "cache" / "registry.json").read_text())
    assert reg["my-smol"]["backend"] == "llamacpp" and reg["my-smol"]["path"] == str(mine)
    r = run("models", "list", env=fresh)
    assert "my-smol" in r.stdout and "imported" in r.stdout
    r = run("models", "cache", "remove", "my-smol", env=fresh)
    assert "left in place" in r.stdout and mine.exists()


def test_import_rejects_what_llamacpp_cannot_run(fresh: dict[str, str], tmp_path: Path) -> None:
    not_gguf = tmp_path / "weights.bin"
    not_gguf.write_bytes(b"PK\x03\x04 not a gguf")
    r = run("models", "import", str(not_gguf), "--name", "x", env=fresh)
    assert r.returncode == 2 and "neither a GGUF file" in r.stderr
    hf = tmp_path / "hf"
    hf.mkdir()
    (hf / "config.json").write_text("{}")
    r = run("models", "import", str(hf), "--name", "x", env=fresh)
    assert r.returncode == 2 and "convert_hf_to_gguf" in r.stderr and "--to foundry" in r.stderr
    r = run("models", "import", str(tmp_path / "nope.gguf"), "--name", "x", env=fresh)
    assert r.returncode == 2 and "does not exist" in r.stderr
    r = run("models", "import", str(not_gguf), "--name", "smollm2-135m", env=fresh)
    assert r.returncode == 2 and "built-in" in r.stderr


def test_hub_download_offline_fails_with_what_to_do(fresh: dict[str, str]) -> None:
    env = {**fresh, "BAKEOFF_DOWNLOAD_STALL_S": "5"}
    r = run(
        "models",
        "download",
        "hf:HuggingFaceTB/SmolLM2-135M-Instruct-GGUF/smollm2-135m-instruct-q8_0.gguf",
        env=env,
    )
    assert r.returncode == 1  # bakeoff's own downloader: no extra needed, a clear offline error
    assert "could not download smollm2-135m-instruct-q8_0.gguf from huggingface.co" in r.stderr
    assert "bakeoff models import" in r.stderr
    r = run("models", "download", "hf:just-a-name", env=fresh)
    assert r.returncode == 2 and "hf:OWNER/REPO/FILE.gguf" in r.stderr


def test_unknown_model_download_says_what_was_tried(fresh: dict[str, str]) -> None:
    r = run("models", "download", "no-such-model-xyz", env=fresh)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert "no-such-model-xyz" in r.stderr


@needs_engine
def test_run_streams_an_answer_then_stats(smol_file: Path) -> None:
    r = run("chat", "smollm2-135m", "--prompt", "Say hello.", "--max-tokens", "8")
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip()
    assert "load " in r.stderr and "TTFT" in r.stderr and "tokens" in r.stderr and "decode" in r.stderr


@needs_engine
def test_run_chat_keeps_the_conversation(smol_file: Path) -> None:
    import subprocess

    from tests.test_cli import BAKEOFF

    proc = subprocess.run(
        [BAKEOFF, "run", "smollm2-135m", "--max-tokens", "6"],
        input="Hi there.\n\nWhat did I just say?\n/bye\n",
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.count(">>> ") == 4  # two answers, the empty line, and the last prompt
    assert proc.stderr.count("TTFT") == 2 and proc.stderr.count("load ") == 1


@needs_engine
def test_doctor_passes_for_embedded_and_fails_for_a_missing_model(smol_file: Path) -> None:
    r = run("doctor", "--models", "smollm2-135m")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "PASS cache" in r.stdout and "PASS answers smollm2-135m" in r.stdout
    r = run("doctor", "--models", "smollm2-135m,ghost-model")
    assert r.returncode == 1 and "FAIL answers ghost-model" in r.stdout and "unknown model" in r.stdout


def test_removing_a_model_that_is_not_cached_says_so_without_asking_the_catalog(
    fresh: dict[str, str], monkeypatch: pytest.MonkeyPatch
) -> None:
    r = run("models", "cache", "remove", "no-such-model", env=fresh)
    assert r.returncode == 1 and "no cached model named 'no-such-model'" in r.stderr
    # in-process: offline, the public catalog (whose SDK calls wait seconds offline) is never asked
    from bakeoff.backends import catalog
    from bakeoff.backends import foundry_sdk as foundry
    from bakeoff.errors import ModelNotFoundError

    monkeypatch.setattr(foundry, "public_catalog_reachable", lambda timeout_s=1.5: False)

    def never(*a: object, **k: object) -> object:
        raise AssertionError("the public catalog was asked")

    monkeypatch.setattr(foundry, "find_model", never)
    with pytest.raises(ModelNotFoundError, match="no cached model named 'ghost'"):
        catalog.remove("ghost")


def test_an_offline_listing_shows_the_saved_public_catalog(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bakeoff.backends import foundry_catalog
    from bakeoff.backends import foundry_sdk as foundry
    from bakeoff.backends.catalog import Entry

    monkeypatch.setenv("BAKEOFF_CACHE", str(tmp_path / "home" / "models"))  # home() is its parent
    monkeypatch.setattr(foundry, "public_catalog_reachable", lambda timeout_s=1.5: False)
    entries, warnings = foundry_catalog.entries(include_public=True)
    assert any("unreachable" in w and "Only locally registered" in w for w in warnings)
    saved = Entry(alias="phi-x", id="phi-x-cpu:1", backend="foundry", source="foundry catalog",
                  capabilities=("chat",))  # fmt: skip
    foundry_catalog.save_public_catalog([saved])
    entries, warnings = foundry_catalog.entries(include_public=True)
    got = [e for e in entries if e.id == "phi-x-cpu:1"]
    assert got and got[0].source == "foundry catalog (saved)" and got[0].capabilities == ("chat",)
    assert any("Showing its listing saved" in w for w in warnings)


def test_the_catalog_names_no_backend() -> None:
    """Listing, downloads, the cache and imports go through backend hooks: catalog.py names none."""
    import bakeoff.backends.catalog
    from bakeoff.backends.plugins import backend_names

    source = Path(bakeoff.backends.catalog.__file__).read_text()
    for name in backend_names():
        assert f'"{name}"' not in source and f"'{name}'" not in source, name
