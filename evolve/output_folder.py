"""The folder a command writes its files into (`--out`), made ready before any work, with one clear line when it
cannot be: a path that is a file, or a place this user may not write."""

from __future__ import annotations

import os
from pathlib import Path

from evolve.errors import EvolveError
from evolve.safe_text import shown


def output_folder(path: Path) -> Path:
    """Create `path` (and its parents) if needed; raise EvolveError if it is not a folder this user can write."""
    where = shown(str(path), 300, one_line=True)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise EvolveError(f"--out {where}: a file is there, not a folder") from None
    except OSError as exc:
        raise EvolveError(f"--out {where}: cannot create the folder ({exc.strerror or exc})") from None
    if not os.access(path, os.W_OK | os.X_OK):
        raise EvolveError(f"--out {where}: this user cannot write into that folder")
    return path
