"""Notes an app can parse: JSON schemas by name or file, and prompts that ask for an answer in one.

``--structured meeting-notes`` (a shipped schema) or ``--structured notes.schema.json`` asks every model
for its answer as JSON valid against the schema: each prompt gets the instruction and the schema, and a
``json_schema`` check that scores validity. With ``--structured-mode constrained`` the engine is also
made to follow it (llama.cpp: a grammar built from the schema; an endpoint: ``response_format``).
"""

from __future__ import annotations

import json
from importlib import resources
from pathlib import Path
from typing import Any

from bakeoff.config.settings import CheckSpec, PromptCase
from bakeoff.errors import UsageError

INSTRUCTION = (
    "Answer with one JSON object and nothing else (no prose, no code fence), valid against this JSON "
    "schema:\n{schema}"
)


def _shipped() -> Any:
    """The folder of shipped schemas (package data)."""
    return resources.files("bakeoff.workload") / "schemas"


def shipped_schemas() -> list[str]:
    """Names of the schemas shipped with bakeoff (``meeting-notes``)."""
    return sorted(p.name.removesuffix(".json") for p in _shipped().iterdir() if p.name.endswith(".json"))


def load_schema(ref: str) -> tuple[str, dict[str, Any]]:
    """``(name, schema)`` of a shipped schema's name or a schema file; a usage error naming the next
    step when it is neither, or not a valid JSON Schema (checked by the ``jsonschema`` package)."""
    if ref in shipped_schemas():
        text = (_shipped() / f"{ref}.json").read_text("utf-8")
        name = ref
    else:
        path = Path(ref).expanduser()
        if not path.is_file():
            raise UsageError(
                f"--structured {ref}: neither a shipped schema nor a file",
                hint=f"shipped schemas: {', '.join(shipped_schemas())}; or give a JSON Schema file",
            )
        text, name = path.read_text("utf-8"), path.name
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise UsageError(f"--structured {ref}: not JSON ({exc})") from None
    problem = schema_problem(schema)
    if problem:
        raise UsageError(f"--structured {ref}: not a valid JSON Schema: {problem}")
    return name, schema


def schema_problem(schema: Any) -> str | None:
    """Why ``schema`` is not a JSON Schema (its dialect's meta-schema says), or None."""
    from jsonschema import validators
    from jsonschema.exceptions import SchemaError

    if not isinstance(schema, dict):
        return "a schema is a JSON object"
    try:
        validators.validator_for(schema).check_schema(schema)
    except SchemaError as exc:
        return str(exc.message)
    return None


def structured_cases(cases: list[PromptCase], name: str, schema: dict[str, Any]) -> list[PromptCase]:
    """Each case asking for its answer as JSON valid against ``schema``, with a check that scores it."""
    ask = INSTRUCTION.format(schema=json.dumps(schema, separators=(",", ":")))
    check = CheckSpec(type="json_schema", value=schema, id=f"valid {name}")
    out = []
    for case in cases:
        checks = [*case.checks, check]
        out.append(case.model_copy(update={"prompt": f"{case.prompt}\n\n{ask}", "checks": checks}))
    return out
