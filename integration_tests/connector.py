"""Runs the real console scripts the way Airbyte does: files for config, catalog and state; messages on stdout."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional

BIN = Path(sys.executable).parent
API_KEY = "sandbox-key-7f3a9c"


@dataclass
class Run:
    returncode: int
    messages: List[Dict[str, Any]]
    stdout: str
    stderr: str
    records: Dict[str, List[Dict[str, Any]]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for message in self.of_type("RECORD"):
            self.records.setdefault(message["record"]["stream"], []).append(message["record"]["data"])

    def of_type(self, kind: str) -> List[Dict[str, Any]]:
        return [message for message in self.messages if message["type"] == kind]

    @property
    def states(self) -> List[Dict[str, Any]]:
        return [message["state"] for message in self.of_type("STATE")]

    @property
    def errors(self) -> List[Dict[str, Any]]:
        return [message["trace"]["error"] for message in self.of_type("TRACE") if message["trace"]["type"] == "ERROR"]

    @property
    def logs(self) -> List[str]:
        return [message["log"]["message"] for message in self.of_type("LOG")]


def run_connector(script: str, verb: str, tmp_path: Path, config: Optional[dict] = None, catalog: Optional[dict] = None,
                  state: Optional[list] = None, stdin: Optional[str] = None, timeout: float = 600) -> Run:
    args = [str(BIN / script), verb]
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            path = tmp_path / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
    completed = subprocess.run(args, input=stdin, capture_output=True, text=True, timeout=timeout,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"})
    messages = [json.loads(line) for line in completed.stdout.splitlines() if line.startswith("{")]
    return Run(completed.returncode, messages, completed.stdout, completed.stderr)


def catalog(*streams: str, sync_mode: str = "full_refresh") -> dict:
    keys = {"contacts": [["id"]], "contact_tags": [["contact_id"], ["tag"]]}
    return {
        "streams": [
            {
                "stream": {"name": name, "json_schema": {}, "supported_sync_modes": ["full_refresh", "incremental"],
                           "source_defined_cursor": True, "default_cursor_field": ["updatedAt"], "source_defined_primary_key": keys[name]},
                "sync_mode": sync_mode,
                "cursor_field": ["updatedAt"],
                "destination_sync_mode": "append_dedup" if sync_mode == "incremental" else "overwrite",
                "primary_key": keys[name],
            }
            for name in streams
        ]
    }


def source_config(api: Any, **options: Any) -> dict:
    return {"api_key": API_KEY, "base_url": api.url, **options}


def as_emitted(contact: dict) -> dict:
    """A contact as the CDK writes it: its serializer leaves out top-level null fields (a null column either way)."""
    return {key: value for key, value in contact.items() if value is not None}
