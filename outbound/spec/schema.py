"""JSON Schemas for the sequence and domain files, generated from the models, for editors."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from outbound.spec.domain import SendingDomain
from outbound.spec.sequence import Sequence

KINDS: dict[str, type[Sequence] | type[SendingDomain]] = {"sequence": Sequence, "domain": SendingDomain}


def json_schema(kind: str) -> dict[str, Any]:
    model = KINDS[kind]
    schema = model.model_json_schema(by_alias=True, mode="validation")
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"outbound {kind} file"
    props = schema.get("properties", {})
    props.pop("$schema", None)
    props["$schema"] = {"type": "string", "description": "this schema's location, for editors"}
    return schema


def write_schemas(folder: Path) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for kind in KINDS:
        path = folder / f"{kind}.schema.json"
        path.write_text(json.dumps(json_schema(kind), indent=2, sort_keys=True) + "\n", encoding="utf-8")
        written.append(path)
    return written
