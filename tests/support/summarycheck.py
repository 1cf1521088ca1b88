"""Checks every ``--summary-json`` document a test produces.

``check(doc_or_path, root)`` validates the document against the published
schema (docs/summary-schema.json, with the jsonschema package) and checks
that its object list matches the files on disk: every object recorded as
stored names an existing file of the recorded size inside the output
directory, and (``exhaustive``) the output directory holds no other file
but ``*.json``.  It returns the document.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "summary-schema.json"
_VALIDATOR: jsonschema.protocols.Validator | None = None


def validator() -> jsonschema.protocols.Validator:
    global _VALIDATOR
    if _VALIDATOR is None:
        schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
        cls = jsonschema.validators.validator_for(schema)
        cls.check_schema(schema)
        _VALIDATOR = cls(schema, format_checker=cls.FORMAT_CHECKER)
    return _VALIDATOR


def objects(doc: dict[str, Any]) -> list[dict[str, Any]]:
    return [o for r in doc["requests"] for o in r["objects"]] + doc["unattributed_objects"]


def check(doc: dict[str, Any] | str | Path, cwd: Path, *, exhaustive: bool = True) -> dict[str, Any]:
    """Validate ``doc`` (a document or the path of one); ``cwd`` is the
    working directory of the run (the output directory is relative to it)."""
    if not isinstance(doc, dict):
        doc = json.loads(Path(doc).read_text(encoding="utf-8"))
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(e.path))
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)
    out = cwd / doc["output_directory"]
    recorded: dict[str, int] = {}
    for obj in objects(doc):
        if obj["path"] is None:
            assert obj["bytes"] is None
            continue
        path = out / obj["path"]
        assert path.is_file(), f"recorded but not on disk: {path}"
        assert path.stat().st_size == obj["bytes"], path
        recorded[obj["path"]] = obj["bytes"]
    if exhaustive and out.is_dir():
        # tests give each run an output directory of its own: every file in
        # it (but the summary itself) must be one the summary names
        on_disk = {p.name for p in out.iterdir() if p.is_file() and not p.name.endswith(".json")}
        assert on_disk == set(recorded), f"disk {sorted(on_disk)} != summary {sorted(recorded)}"
    totals = doc["totals"]
    assert totals["objects"] == len(objects(doc))
    assert totals["bytes"] == sum(o["bytes"] or 0 for o in objects(doc))
    assert totals["requests"] == len(doc["requests"])
    return doc
