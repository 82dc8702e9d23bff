"""Which image the docker backend runs, and what of the host it needs mounted for the candidate's Python.

Two sources, in order:
1. an image the user built or pulled (``sandbox/Dockerfile``: python:3.11-slim with numpy and a non-root user),
   named by ``EVOLVE_DOCKER_IMAGE`` and present in the local engine: its own ``python3`` runs the candidate;
2. otherwise, since no registry may be reachable, an image built locally from a few bytes (``docker import``
   of a tiny tarball: /etc/passwd entries for the sandbox uids, /tmp, and the merged-/usr symlinks the host
   has), run with the host's interpreter, its packages and the system libraries bind-mounted read-only at
   their own paths, so the engine's python and numpy work unchanged inside.
"""

from __future__ import annotations

import hashlib
import io
import os
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import docker
import docker.errors

from . import identity, mounts

IMAGE_ENV = "EVOLVE_DOCKER_IMAGE"
BASE_REPOSITORY = "evolve-sandbox"
_TOP_LEVEL = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")  # symlinks into /usr on merged-/usr hosts


@dataclass(frozen=True)
class Image:
    tag: str
    source: str  # how it was chosen, for describe()
    python: str  # the interpreter inside; an argv[0] naming the engine's own interpreter is rewritten to it
    mounts: tuple[Path, ...]  # host paths the image needs, bind-mounted read-only at the same path


def resolve(client: docker.DockerClient, wanted: str | None) -> Image:
    """The user's image ``wanted`` when the engine has it, else the host-mounted fallback (built if missing)."""
    note = ""
    if wanted:
        try:
            client.images.get(wanted)
            return Image(wanted, f"{IMAGE_ENV}={wanted}", "python3", ())
        except docker.errors.ImageNotFound:
            note = f" ({IMAGE_ENV}={wanted} is not in the local engine: build it with `docker build -t {wanted} sandbox/`)"
    tag = _ensure_base(client)
    return Image(
        tag,
        "host-mounted fallback: the host's Python and system libraries, read-only" + note,
        sys.executable,
        _host_mounts(),
    )


def _ensure_base(client: docker.DockerClient) -> str:
    """Import the base tarball unless the engine has it; the tag is its content hash, so a change rebuilds."""
    data = _base_tarball()
    tag = f"{BASE_REPOSITORY}:base-{hashlib.sha256(data).hexdigest()[:12]}"
    try:
        client.images.get(tag)
    except docker.errors.ImageNotFound:
        repository, _, version = tag.partition(":")
        client.api.import_image_from_data(data, repository=repository, tag=version)
    return tag


def _base_tarball() -> bytes:
    """A reproducible tarball (fixed owners and times), so the same host always yields the same tag."""
    users = ["root:x:0:0:root:/root:/usr/sbin/nologin"] + [
        f"evolve{slot}:x:{identity.SLOT_BASE_UID + slot}:{identity.SLOT_BASE_UID + slot}::/tmp:/usr/sbin/nologin"
        for slot in range(identity.SLOTS)
    ]
    groups = ["root:x:0:"] + [
        f"evolve{slot}:x:{identity.SLOT_BASE_UID + slot}:" for slot in range(identity.SLOTS)
    ]
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, mode in (("etc", 0o755), ("tmp", 0o1777)):
            tar.addfile(_entry(name, tarfile.DIRTYPE, mode))
        for name, lines in (("etc/passwd", users), ("etc/group", groups)):
            text = ("\n".join(lines) + "\n").encode()
            entry = _entry(name, tarfile.REGTYPE, 0o644)
            entry.size = len(text)
            tar.addfile(entry, io.BytesIO(text))
        for name in _TOP_LEVEL:
            host = Path("/") / name
            if host.is_symlink():
                entry = _entry(name, tarfile.SYMTYPE, 0o777)
                entry.linkname = os.readlink(host)
                tar.addfile(entry)
    return buffer.getvalue()


def _entry(name: str, kind: bytes, mode: int) -> tarfile.TarInfo:
    entry = tarfile.TarInfo(name)
    entry.type, entry.mode, entry.mtime = kind, mode, 0
    return entry


def _host_mounts() -> tuple[Path, ...]:
    """/usr, real (non-symlink) top-level library dirs, the loader cache, and this interpreter's prefixes."""
    system = [Path("/usr"), *(Path("/") / name for name in _TOP_LEVEL), Path("/etc/ld.so.cache")]
    present = {p for p in system if p.exists() and not p.is_symlink()} | set(mounts.python_paths())
    return tuple(sorted(mounts.outermost(present)))
