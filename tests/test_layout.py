"""The package's shape as a user meets it: the public surface, the old import paths, a CLI that works
without the optional extras, and every environment variable shown in ``bench --help``."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from bakeoff.config.settings import env_overrides
from bakeoff.errors import ConfigError

PUBLIC = {
    "BakeoffError",
    "BenchSettings",
    "ModelSpec",
    "PromptCase",
    "Summary",
    "__version__",
    "benchmark",
    "load_summary",
}


def _python(code: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith("BENCH_") and k != "FOUNDRY_LOCAL_ENDPOINT"
    }
    env["COLUMNS"] = "200"
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=timeout
    )


def test_public_surface_is_listed_and_loads_lazily() -> None:
    """``bakeoff.__all__`` is the curated surface; ``import bakeoff`` loads none of the stages until a
    name is used, and every name is the object its home module defines."""
    r = _python(
        "import sys, bakeoff\n"
        "print(sorted(bakeoff.__all__))\n"
        "print(any(m.startswith('bakeoff.') and m != 'bakeoff.version' for m in sys.modules))\n"
        "from bakeoff import benchmark, BenchSettings, ModelSpec, PromptCase, Summary, load_summary\n"
        "from bakeoff import BakeoffError\n"
        "import bakeoff.run.api as a, bakeoff.config.settings as c\n"
        "import bakeoff.results.schema as s, bakeoff.errors as e\n"
        "print(benchmark is a.benchmark, BenchSettings is c.BenchSettings, ModelSpec is c.ModelSpec,\n"
        "      PromptCase is c.PromptCase, Summary is s.Summary, load_summary is s.load_summary,\n"
        "      BakeoffError is e.BakeoffError)\n"
    )
    assert r.returncode == 0, r.stderr
    listed, loaded, same = r.stdout.splitlines()
    assert listed == str(sorted(PUBLIC))
    assert loaded == "False"
    assert same == " ".join(["True"] * 7)
    import bakeoff

    with pytest.raises(AttributeError, match="no attribute 'nothing_here'"):
        _ = bakeoff.nothing_here  # type: ignore[attr-defined]


def test_old_import_paths_still_work() -> None:
    """``bakeoff.api``, ``bakeoff.config`` and ``bakeoff.results`` (modules before the stage packages)
    hand out the same objects as their new homes."""
    import bakeoff.api
    import bakeoff.config
    import bakeoff.results
    from bakeoff.config.settings import BenchSettings, load_models_file
    from bakeoff.results.schema import Summary, load_summary
    from bakeoff.run.api import benchmark

    assert bakeoff.api.benchmark is benchmark
    assert bakeoff.config.BenchSettings is BenchSettings
    assert bakeoff.config.load_models_file is load_models_file
    assert bakeoff.results.Summary is Summary
    assert bakeoff.results.load_summary is load_summary
    with pytest.raises(AttributeError, match=r"bakeoff\.config"):
        _ = bakeoff.config.NoSuchName


# Importing a module whose name maps to None in sys.modules raises ImportError: the extra is absent.
_WITHOUT = (
    "import sys\nfor m in {mods!r}: sys.modules[m] = None\n"
    "from bakeoff.cli import main\nsys.argv = {argv!r}\nmain()\n"
)
_SERVE = ["starlette", "starlette.applications", "uvicorn"]


def test_help_works_without_the_serve_extra() -> None:
    r = _python(_WITHOUT.format(mods=_SERVE, argv=["bakeoff", "--help"]))
    assert r.returncode == 0, r.stderr
    assert "serve" in r.stdout and "bench" in r.stdout


@pytest.mark.parametrize(
    ("mods", "argv", "extra"),
    [
        (_SERVE, ["bakeoff", "serve"], "serve"),
        (["ray"], ["bakeoff", "fleet", str(Path(__file__).parents[1] / "examples" / "fleet.json")], "fleet"),
    ],
)
def test_a_command_without_its_extra_names_it_and_exits_2(
    mods: list[str], argv: list[str], extra: str
) -> None:
    r = _python(_WITHOUT.format(mods=mods, argv=argv))
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert f"pip install 'bakeoff[{extra}]'" in r.stderr
    assert "Traceback" not in r.stderr
    assert "->" not in r.stderr.split("error:")[0]  # nothing printed (no header, no folder) before the error


def test_bench_help_shows_every_environment_variable() -> None:
    """Rich reads ``[env: X]`` as markup unless escaped; each of the seven must print as itself."""
    r = _python(
        "import sys\nfrom bakeoff.cli import main\nsys.argv = ['bakeoff', 'bench', '--help']\nmain()\n"
    )
    assert r.returncode == 0, r.stderr
    for shown in (
        "BENCH_MODELS",
        "BENCH_PROMPT",
        "FOUNDRY_LOCAL_ENDPOINT",
        "BENCH_ROUNDS",
        "BENCH_MAX_TOKENS",
        "BENCH_TEMPERATURE",
        "BENCH_STREAM=0",
    ):
        assert f"[env: {shown}]" in r.stdout, shown
    for panel in ("Models", "Prompts", "Sampling", "Load", "SLO and budget", "Output", "Cost", "Fleet"):
        assert f"─ {panel} ─" in r.stdout, panel


@pytest.mark.parametrize("value", [",,,", " , ", ","])
def test_bench_models_naming_no_model_is_an_error(value: str) -> None:
    with pytest.raises(ConfigError, match="BENCH_MODELS") as info:
        env_overrides({"BENCH_MODELS": value})
    assert info.value.exit_code == 2
    assert env_overrides({"BENCH_MODELS": " a ,, b"}) == {"models": ["a", "b"]}


@pytest.mark.parametrize("name", ["BENCH_MODELS", "BENCH_PROMPT", "BENCH_ROUNDS", "FOUNDRY_LOCAL_ENDPOINT"])
@pytest.mark.parametrize("value", ["", " ", "\t"])
def test_a_variable_set_but_blank_is_an_error_naming_it(name: str, value: str) -> None:
    with pytest.raises(ConfigError, match=f"{name} is set but empty") as info:
        env_overrides({name: value})
    assert info.value.key == name and info.value.exit_code == 2


@pytest.mark.parametrize(
    ("flags", "says"),
    [
        (["--prompt", ""], "--prompt is empty"),
        (["--prompt", "   "], "--prompt is empty"),
        (["--rate", "inf"], "invalid value for --rate: Input should be a finite number"),
        (["--temperature", "nan"], "invalid value for --temperature: Input should be a finite number"),
        (["--profile", "rates=1,inf"], "--profile rates: 'inf' is not a finite number"),
    ],
)
def test_empty_prompts_and_infinite_numbers_are_refused(flags: list[str], says: str, tmp_path: Path) -> None:
    code = (
        "import sys\nfrom bakeoff.cli import main\n"
        f"sys.argv = ['bakeoff', 'bench', '-e', 'http://127.0.0.1:9/v1', '-m', 'm',"
        f" '-o', {str(tmp_path / 'o')!r}, *{flags!r}]\nmain()\n"
    )
    r = _python(code)
    assert r.returncode == 2 and says in r.stderr and "Traceback" not in r.stderr, r.stderr
    assert not (tmp_path / "o").exists()


def test_a_whitespace_prompt_in_a_prompt_set_is_refused() -> None:
    from pydantic import ValidationError

    from bakeoff.config.settings import PromptCase

    with pytest.raises(ValidationError, match="only whitespace"):
        PromptCase(id="a", prompt=" \n ")


# each rule between options: the flags as typed, and the same settings as BenchSettings keywords
_CONFLICTS = [
    (["--rate", "5", "--profile", "sweep"], {"rate": 5.0, "profile": "sweep"}, "not both"),
    (["--stage-seconds", "3"], {"stage_seconds": 3.0}, "go with --profile"),
    (["--stage-requests", "3"], {"stage_requests": 3}, "go with --profile"),
    (["--max-concurrency", "4"], {"max_concurrency": 4}, "--max-concurrency (max_concurrency) goes with"),
    (["--poisson"], {"arrival": "poisson"}, "--poisson (arrival=poisson) goes with --rate or --profile"),
    (["--rate", "5", "--concurrency", "4"], {"rate": 5.0, "concurrency": 4}, "closed loop's"),
    (["--profile", "sweep", "-c", "2"], {"profile": "sweep", "concurrency": 2}, "closed loop's"),
]


@pytest.mark.parametrize(("flags", "keywords", "part"), _CONFLICTS)
def test_option_conflicts_are_the_same_error_in_python_and_on_the_command_line(
    flags: list[str], keywords: dict[str, object], part: str, tmp_path: Path
) -> None:
    """``BenchSettings`` holds the rules, so the library, a fleet file and the CLI refuse alike; the CLI
    exits 2 before anything runs (the endpoint here does not exist)."""
    from pydantic import ValidationError

    from bakeoff.config.settings import BenchSettings

    with pytest.raises(ValidationError) as info:
        BenchSettings(models=["m"], **keywords)  # type: ignore[arg-type]
    python_text = str(info.value.errors()[0]["msg"]).removeprefix("Value error, ")
    assert part in python_text
    code = (
        "import sys\nfrom bakeoff.cli import main\n"
        f"sys.argv = ['bakeoff', 'bench', '-e', 'http://127.0.0.1:9/v1', '-m', 'm',"
        f" '-o', {str(tmp_path / 'o')!r}, *{flags!r}]\nmain()\n"
    )
    r = _python(code)
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert " ".join(r.stderr.split()) == f"error: {python_text}"
    assert not (tmp_path / "o").exists()


def test_a_fleet_file_breaking_a_rule_names_its_settings_key(tmp_path: Path) -> None:
    from bakeoff.fleet.spec import load_fleet_file

    f = tmp_path / "fleet.json"
    f.write_text(
        '{"groups": {"a": {"labels": {"bakeoff-group": "a"}, "models": ["m"]}},\n'
        ' "settings": {"rate": 2, "profile": "sweep"}}\n'
    )
    with pytest.raises(ConfigError) as info:
        load_fleet_file(f)
    e = info.value
    assert e.key == "settings" and e.line == 2 and e.source == str(f)
    assert "give --rate (rate) or --profile (profile), not both" in str(e)
