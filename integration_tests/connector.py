"""Runs the real console scripts the way Airbyte does: files for config, catalog and state; messages on stdout."""

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

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

    @classmethod
    def from_completed(cls, completed: subprocess.CompletedProcess) -> "Run":
        """A finished connector process: its exit code, and the messages among its stdout lines (bytes are UTF-8)."""
        stdout, stderr = (out.decode() if isinstance(out, bytes) else out for out in (completed.stdout, completed.stderr))
        messages = [json.loads(line) for line in stdout.splitlines() if line.startswith("{")]
        return cls(completed.returncode, messages, stdout, stderr)

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


def command(script: str, verb: str, folder: Path, config: Optional[dict] = None, catalog: Optional[dict] = None,
            state: Optional[list] = None) -> List[str]:
    """The command line of a console script, with the files it names written to `folder`."""
    args = [str(BIN / script), verb]
    for name, value in (("config", config), ("catalog", catalog), ("state", state)):
        if value is not None:
            path = folder / f"{name}.json"
            path.write_text(json.dumps(value))
            args += [f"--{name}", str(path)]
    return args


def environment() -> Dict[str, str]:
    return {**os.environ, "PYTHONUNBUFFERED": "1"}  # each message as it is written


def run_connector(script: str, verb: str, tmp_path: Path, config: Optional[dict] = None, catalog: Optional[dict] = None,
                  state: Optional[list] = None, stdin: Optional[Union[str, bytes]] = None, timeout: float = 600) -> Run:
    """stdin given as bytes goes to the process as is (for input that is not UTF-8)."""
    completed = subprocess.run(command(script, verb, tmp_path, config, catalog, state), input=stdin, capture_output=True,
                               text=not isinstance(stdin, bytes), timeout=timeout, env=environment())
    return Run.from_completed(completed)


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


def assert_no_leak(run: Run, key: str = API_KEY, folder: Optional[Path] = None) -> None:
    """`key` is in neither stdout nor stderr, nor (given `folder`) in any file under it but the config.json given."""
    assert key not in run.stdout, "key in stdout"
    assert key not in run.stderr, "key in stderr"
    if folder is not None:
        for path in folder.rglob("*"):
            if path.is_file() and path.name != "config.json":  # the config is the connector's input, not its output
                assert key not in path.read_text(errors="replace"), f"key in {path.name}"
