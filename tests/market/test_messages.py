"""The message schemas: one JSON Schema per type and version, current, and every outbox payload valid."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kwartier.market import messages as m


def test_the_committed_schemas_are_the_ones_the_models_generate() -> None:
    expected = m.json_schemas()
    committed = {
        str(path.relative_to(m.SCHEMAS_DIR)): json.loads(path.read_text(encoding="utf-8"))
        for path in sorted(m.SCHEMAS_DIR.rglob("*.json"))
    }
    assert committed == expected
    assert len(committed) == len(m.INBOUND_TYPES) + len(m.OUTBOUND_TYPES)


def test_write_json_schemas_writes_one_file_per_type(tmp_path: Path) -> None:
    paths = m.write_json_schemas(tmp_path)
    assert sorted(p.name for p in paths) == sorted(
        f"{m.message_type(t)}.json" for t in m.INBOUND_TYPES + m.OUTBOUND_TYPES
    )


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ({"type": "switch_request", "version": 2}, "version"),
        ({"type": "teleport"}, "type"),
        ([], "(message)"),
    ],
)
def test_malformed_messages_say_what_is_wrong(document: object, fragment: str) -> None:
    with pytest.raises(m.MalformedMessageError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        m.parse_inbound(document)


def test_every_outbox_payload_of_the_scenarios_follows_its_schema() -> None:
    models = {m.message_type(t): t for t in m.OUTBOUND_TYPES}
    scenarios = Path(__file__).parent / "scenarios"
    seen = set()
    for path in scenarios.glob("*/then/outbox.json"):
        for payload in json.loads(path.read_text(encoding="utf-8")):
            models[payload["type"]].model_validate(payload)
            seen.add(payload["type"])
    # sharing results come from settlement runs, not a market process (tests/sharing/test_outbox.py)
    assert seen == set(models) - {"sharing_result"}
