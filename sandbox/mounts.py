"""The filesystem a candidate sees inside its mount namespace.

- every host mount is remounted read-only (except /proc, which gets a fresh instance for the PID namespace);
- /tmp and /dev/shm are private tmpfs (sized by the memory limit), so nothing is left in the host's;
- the workdir is bind-mounted writable, the readonly paths read-only;
- a directory the candidate's uid could not traverse (e.g. /root, 0700, holding a pyenv Python) is covered
  by an empty tmpfs in which only the exposed paths are re-bound: they become reachable, the rest hidden.

The plan is computed in the engine; ``apply`` runs in the forked child and only makes syscalls.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from . import linux as L

_OPTION_FLAGS = {
    "ro": L.MS_RDONLY,
    "nosuid": L.MS_NOSUID,
    "nodev": L.MS_NODEV,
    "noexec": L.MS_NOEXEC,
    "noatime": L.MS_NOATIME,
    "nodiratime": L.MS_NODIRATIME,
    "relatime": L.MS_RELATIME,
    "strictatime": L.MS_STRICTATIME,
}
_SCRATCH = (Path("/tmp"), Path("/dev/shm"))


@dataclass(frozen=True)
class Mask:
    path: bytes
    options: bytes
    scratch: bool  # scratch masks stay writable; hiding masks are made read-only once populated


@dataclass(frozen=True)
class Exposure:
    path: bytes
    writable: bool
    is_dir: bool
    needs_mountpoint: bool  # lies under a mask, so its mount point must be created in the tmpfs
    flags: int  # per-mount flags of the host mount it lives on (kept: a user namespace may not drop them)


@dataclass(frozen=True)
class MountPlan:
    readonly_mounts: tuple[tuple[bytes, int], ...]
    masks: tuple[Mask, ...]
    exposures: tuple[Exposure, ...]


def _host_mounts() -> list[tuple[Path, int]]:
    """(mount point, per-mount flags) from /proc/self/mountinfo, in mount order."""
    unescape = re.compile(r"\\([0-7]{3})")
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            point = unescape.sub(lambda m: chr(int(m.group(1), 8)), fields[4])
            flags = sum(_OPTION_FLAGS.get(opt, 0) for opt in fields[5].split(","))
            mounts.append((Path(point), flags))
    return mounts


def _inside(path: Path, parents: Iterable[Path]) -> bool:
    return any(path == p or p in path.parents for p in parents)


def _outermost(paths: Iterable[Path]) -> list[Path]:
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not _inside(path, kept):
            kept.append(path)
    return kept


def plan(workdir: Path, readonly: Sequence[Path], tmp_mb: int, hide_untraversable: bool,
         hidden: Sequence[Path] = ()) -> MountPlan:
    """Plan for resolved absolute paths; ``hide_untraversable`` when the candidate runs as another uid;
    ``hidden`` folders are covered by an empty read-only tmpfs."""
    host = _host_mounts()
    exposed = [(workdir, True)] + [(p, False) for p in _outermost(readonly) if p != workdir]
    masks = [Mask(bytes(p), b"mode=1777,size=%dm" % tmp_mb, True) for p in _SCRATCH if p.is_dir()]
    if hide_untraversable:
        for path, _ in exposed:
            for ancestor in reversed(path.parents):
                if _inside(ancestor, [Path(os.fsdecode(m.path)) for m in masks]):
                    break
                if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                    masks.append(Mask(bytes(ancestor), b"mode=755,size=1m", False))
                    break
    mask_paths = [Path(os.fsdecode(m.path)) for m in masks]
    for path in _outermost(hidden):  # not inside another mask, which hides it already
        if path.is_dir() and not _inside(path, mask_paths):
            masks.append(Mask(bytes(path), b"mode=755,size=1m", False))
    mask_paths = [Path(os.fsdecode(m.path)) for m in masks]

    def flags_of(path: Path) -> int:
        return (
            max((m for m in host if _inside(path, [m[0]])), key=lambda m: len(m[0].parts))[1] & ~L.MS_RDONLY
        )

    exposures = tuple(
        Exposure(bytes(path), writable, path.is_dir(), _inside(path, mask_paths), flags_of(path))
        for path, writable in sorted(exposed, key=lambda e: len(e[0].parts))
    )
    readonly_mounts = tuple(
        dict.fromkeys((bytes(p), flags) for p, flags in host if not _inside(p, [Path("/proc")]))
    )
    return MountPlan(readonly_mounts, tuple(masks), exposures)


def apply(mount_plan: MountPlan) -> None:
    """Build the view; runs in the forked child after unshare(CLONE_NEWNS), as root of its user namespace.

    Host read-only remounts are best effort (describe() reports whether "/" ended up read-only); masks and
    exposures must succeed, or the run fails rather than silently exposing less isolation.
    """
    L.mount(None, b"/", None, L.MS_REC | L.MS_PRIVATE)
    handles = [
        os.open(e.path, os.O_PATH | os.O_CLOEXEC) for e in mount_plan.exposures
    ]  # before masks hide them
    for target, flags in mount_plan.readonly_mounts:
        try:
            L.mount(None, target, None, L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | flags)
        except OSError:
            pass
    for mask in mount_plan.masks:
        L.mount(b"tmpfs", mask.path, b"tmpfs", L.MS_NOSUID | L.MS_NODEV, mask.options)
    for exposure, handle in zip(mount_plan.exposures, handles, strict=True):
        if exposure.needs_mountpoint:
            _make_mountpoint(exposure)
        L.mount(b"/proc/self/fd/%d" % handle, exposure.path, None, L.MS_BIND | L.MS_REC)
        access = 0 if exposure.writable else L.MS_RDONLY
        L.mount(
            None,
            exposure.path,
            None,
            L.MS_REMOUNT | L.MS_BIND | L.MS_NOSUID | L.MS_NODEV | exposure.flags | access,
        )
        os.close(handle)
    for mask in mount_plan.masks:
        if not mask.scratch:
            L.mount(None, mask.path, None, L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV)


def _make_mountpoint(exposure: Exposure) -> None:
    if exposure.is_dir:
        os.makedirs(exposure.path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(exposure.path), exist_ok=True)
    os.close(os.open(exposure.path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
