"""Locate the data folders (`prompts/`, `tasks/`) in an installed wheel or in a source checkout.

A wheel carries them as `evolve/_resources/<name>`; a source or editable checkout keeps them at the repository root.
"""

from pathlib import Path

_PACKAGE_DIR = Path(__file__).resolve().parent


def resource_dir(name: str) -> Path:
    """Return the folder `prompts` or `tasks`, wherever this installation keeps it."""
    for candidate in (_PACKAGE_DIR / "_resources" / name, _PACKAGE_DIR.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"Evolve's '{name}' folder is missing from this installation (looked in {_PACKAGE_DIR})")


def builtin_task_dirs() -> dict[str, Path]:
    """Built-in tasks by name: every folder under `tasks/` holding a task.yaml or an OpenEvolve config.yaml."""
    root = resource_dir("tasks")
    return {
        p.name: p
        for p in sorted(root.iterdir())
        if p.is_dir() and ((p / "task.yaml").is_file() or (p / "config.yaml").is_file())
    }
