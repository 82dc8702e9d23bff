"""Read back what W&B wrote in offline mode: the records of a run's `.wandb` file (a LevelDB-style log of
protobuf records: a 7-byte header, then 32 KiB blocks of chunks with a 7-byte header each), decoded with wandb's
own protobuf classes. wandb ships no Python reader of its own for this file."""

from __future__ import annotations

import json
import struct
from pathlib import Path
from typing import Any

_BLOCK = 32 * 1024
_FULL, _FIRST, _MIDDLE, _LAST = 1, 2, 3, 4


def _records(data: bytes) -> list[bytes]:
    assert data[:4] == b":W&B", "not a .wandb log"
    records, pending, pos = [], b"", 7
    while pos + 7 <= len(data):
        room = _BLOCK - pos % _BLOCK
        if room < 7:  # the rest of a block too short for a header is padding
            pos += room
            continue
        _crc, length, kind = struct.unpack("<IHB", data[pos:pos + 7])
        chunk = data[pos + 7:pos + 7 + length]
        pos += 7 + length
        if kind == 0 and length == 0:
            continue
        if kind in (_FULL, _FIRST):
            pending = chunk
        else:
            pending += chunk
        if kind in (_FULL, _LAST):
            records.append(pending)
    return records


def read_run(run_dir: Path) -> dict[str, Any]:
    """{"config": {key: value}, "history": [{key: value}, ...]} of the run logged in `run_dir`."""
    from wandb.proto import wandb_internal_pb2

    (log,) = run_dir.glob("run-*.wandb")
    config: dict[str, Any] = {}
    history: list[dict[str, Any]] = []
    for raw in _records(log.read_bytes()):
        record = wandb_internal_pb2.Record()
        record.ParseFromString(raw)
        kind = record.WhichOneof("record_type")
        if kind == "history":
            history.append({item.key or "/".join(item.nested_key): json.loads(item.value_json)
                            for item in record.history.item})
        elif kind == "config":
            config.update({item.key: json.loads(item.value_json) for item in record.config.update})
        elif kind == "run":
            config.update({item.key: json.loads(item.value_json) for item in record.run.config.update})
    return {"config": config, "history": history}
