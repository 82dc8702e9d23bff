"""Other evolution frameworks' formats, read as they are: task folders (OpenEvolve, ShinkaEvolve), their
checkpoints and results (importer.py), and the conversion of a folder to Evolve's tamper-proof interface."""


def grouped(keys: list[str]) -> str:
    """Dotted config keys, those of one section together: 'a, b; db: x, y' (the one note a peer folder gets)."""
    sections: dict[str, list[str]] = {}
    for key in keys:
        head, _, tail = key.rpartition(".")
        sections.setdefault(head, []).append(tail)
    return "; ".join(", ".join(names) if not head else f"{head}: {', '.join(names)}"
                     for head, names in sections.items())
