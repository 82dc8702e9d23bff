"""The filesystem a candidate sees inside its mount namespace.

- only the system's own folders stay in sight (SYSTEM: /usr, /etc, /dev, the /lib and /bin folders, /sys),
  every host mount remounted read-only (except /proc, which gets a fresh instance for the PID namespace);
  every other top-level folder (/home, /root, /var, /run, /opt, /srv, a checkout under /work, ...) is covered
  by an empty read-only tmpfs and every other top-level file by an unreadable node, so no copy of a task's
  answers (another checkout, a git history, a backup), no database of the engine and no unix socket of the
  host is reachable, wherever it lies;
- /tmp and /dev/shm are private tmpfs (sized by the memory limit), so nothing is left in the host's;
- the workdir is a private tmpfs sized by the memory limit holding a copy of the caller's folder (the warm
  zygote's own is bound live), the readonly paths and the interpreter's folders are bound read-only: where
  they lie under a covered folder, only they are bound back into it;
- a directory the candidate's uid could not traverse (e.g. a 0700 home inside /usr) is covered the same way.

The plan is computed in the engine; ``apply`` runs in the forked child and only makes syscalls.
"""

from __future__ import annotations

import functools
import os
import re
import stat
import sys
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
SCRATCH = (Path("/tmp"), Path("/dev/shm"))  # private, writable tmpfs in every job
SYSTEM = frozenset({"usr", "etc", "dev", "proc", "sys", "tmp", "bin", "sbin", "lib", "lib32", "lib64", "libx32"})
_COVER = b"mode=755,size=1m"  # an empty tmpfs over a hidden folder (made read-only once its exposures are in)


def mount_proc() -> None:
    """A /proc for the PID namespace just entered, in which a process sees only those of its own uid
    (hidepid=invisible): not the namespace's init when that is a fork of the engine still holding its command
    line (which may name a storage URL with a password), nor any other run's."""
    L.mount(b"proc", b"/proc", b"proc", L.MS_NOSUID | L.MS_NODEV | L.MS_NOEXEC, b"hidepid=invisible")


def scratch_options(tmp_mb: int) -> bytes:
    return b"mode=1777,size=%dm" % tmp_mb


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
    covered_files: tuple[bytes, ...]  # top-level files outside SYSTEM: /dev/null is bound over each (nodev)
    exposures: tuple[Exposure, ...]
    scratch_mb: int  # size of each private tmpfs: /tmp, /dev/shm and the work folder's copy
    copy_workdir: bool  # the work folder as a sized tmpfs copy (a candidate's), or bound live (the warm zygote's)


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


def inside(path: Path, parents: Iterable[Path]) -> bool:
    return any(path == p or p in path.parents for p in parents)


@functools.cache
def python_paths() -> tuple[Path, ...]:
    """What the candidate must be able to read for this interpreter and its packages to work (every backend's
    view includes them; computed once, they never change)."""
    exe = Path(os.path.realpath(sys.executable)).parent
    return tuple(Path(p).resolve() for p in {sys.prefix, sys.base_prefix, sys.exec_prefix, str(exe)})


def outermost(paths: Iterable[Path]) -> list[Path]:
    unique = sorted(set(paths), key=lambda p: len(p.parts))
    kept: list[Path] = []
    for path in unique:
        if not inside(path, kept):
            kept.append(path)
    return kept


def _outside_system() -> tuple[list[Path], list[Path]]:
    """The top-level folders and files of / that are not the system's own (symlinks are left alone: they point
    into SYSTEM on merged-/usr systems, and whatever else they point to is covered where it lies)."""
    folders, files = [], []
    for entry in os.scandir("/"):
        if entry.name in SYSTEM or entry.is_symlink():
            continue
        (folders if entry.is_dir(follow_symlinks=False) else files).append(Path("/", entry.name))
    return sorted(folders), sorted(files)


def plan(workdir: Path, readonly: Sequence[Path], tmp_mb: int, hide_untraversable: bool,
         hidden: Sequence[Path] = (), copy_workdir: bool = True) -> MountPlan:
    """Plan for resolved absolute paths; ``hide_untraversable`` when the candidate runs as another uid;
    ``hidden`` folders are covered by an empty read-only tmpfs; ``copy_workdir=False`` binds the work folder
    itself, writable, for a process that must see what the engine adds to it later (the warm zygote)."""
    host = _host_mounts()
    exposed = [(workdir, True)] + [(p, False) for p in outermost(readonly) if p != workdir]
    masks = [Mask(bytes(p), scratch_options(tmp_mb), True) for p in SCRATCH if p.is_dir()]
    top_folders, top_files = _outside_system()
    masks += [Mask(bytes(p), _COVER, False) for p in top_folders]
    if hide_untraversable:
        for path, _ in exposed:
            for ancestor in reversed(path.parents):
                if inside(ancestor, [Path(os.fsdecode(m.path)) for m in masks]):
                    break
                if not os.stat(ancestor).st_mode & stat.S_IXOTH:
                    masks.append(Mask(bytes(ancestor), _COVER, False))
                    break
    mask_paths = [Path(os.fsdecode(m.path)) for m in masks]
    for path in outermost(hidden):  # not inside another mask, which hides it already
        if path.is_dir() and not inside(path, mask_paths):
            masks.append(Mask(bytes(path), _COVER, False))
    mask_paths = [Path(os.fsdecode(m.path)) for m in masks]

    def flags_of(path: Path) -> int:
        return (
            max((m for m in host if inside(path, [m[0]])), key=lambda m: len(m[0].parts))[1] & ~L.MS_RDONLY
        )

    exposures = tuple(
        Exposure(bytes(path), writable, path.is_dir(), inside(path, mask_paths), flags_of(path))
        for path, writable in sorted(exposed, key=lambda e: len(e[0].parts))
    )
    readonly_mounts = tuple(
        dict.fromkeys((bytes(p), flags) for p, flags in host if not inside(p, [Path("/proc")]))
    )
    covered = tuple(bytes(p) for p in top_files if not any(path == p for path, _ in exposed))
    return MountPlan(readonly_mounts, tuple(masks), covered, exposures, tmp_mb, copy_workdir)


def apply(mount_plan: MountPlan) -> None:
    """Build the view; runs in the forked child after unshare(CLONE_NEWNS), as root of its user namespace.

    Host read-only remounts are best effort (describe() reports whether "/" ended up read-only); masks and
    exposures must succeed, or the run fails rather than silently exposing less isolation.
    """
    L.mount(None, b"/", None, L.MS_REC | L.MS_PRIVATE)
    handles = [
        os.open(e.path, os.O_PATH | os.O_CLOEXEC) for e in mount_plan.exposures
    ]  # before masks hide them
    null = os.open(b"/dev/null", os.O_PATH | os.O_CLOEXEC)
    for path in mount_plan.covered_files:
        bind(null, path, writable=False)
    os.close(null)
    for target, flags in mount_plan.readonly_mounts:
        try:
            L.mount(None, target, None, L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | flags)
        except OSError:
            pass
    for mask in mount_plan.masks:
        L.mount(b"tmpfs", mask.path, b"tmpfs", L.MS_NOSUID | L.MS_NODEV, mask.options)
    for exposure, handle in zip(mount_plan.exposures, handles, strict=True):
        if exposure.needs_mountpoint:
            make_mountpoint(exposure.path, exposure.is_dir)
        if exposure.writable and mount_plan.copy_workdir:
            scratch_copy(handle, exposure.path, mount_plan.scratch_mb)
        else:
            bind(handle, exposure.path, exposure.writable, exposure.flags)
        os.close(handle)
    for mask in mount_plan.masks:
        if not mask.scratch:
            L.mount(None, mask.path, None, L.MS_REMOUNT | L.MS_BIND | L.MS_RDONLY | L.MS_NOSUID | L.MS_NODEV)


def scratch_copy(handle: int, target: bytes, size_mb: int) -> None:
    """Mount a private tmpfs of `size_mb` at `target`, owned like the folder the O_PATH `handle` names, and copy
    that folder's files into it: the run's work folder. What the run writes there counts against that size
    (a full folder is ENOSPC, never a full host disk) and goes when the run ends; no caller reads it back."""
    source = b"/proc/self/fd/%d" % handle
    st = os.stat(source)
    options = b"size=%dm,mode=%o,uid=%d,gid=%d" % (size_mb, st.st_mode & 0o7777, st.st_uid, st.st_gid)
    L.mount(b"tmpfs", target, b"tmpfs", L.MS_NOSUID | L.MS_NODEV, options)
    _copy_tree(source, target)


def _copy_tree(source: bytes, target: bytes) -> None:
    """Folders, regular files and symlinks, with owner and mode (anything else is not copied); syscalls only,
    as this runs in a forked child."""
    for entry in os.scandir(source):
        src, dst = os.path.join(source, entry.name), os.path.join(target, entry.name)
        st = entry.stat(follow_symlinks=False)
        if entry.is_symlink():
            os.symlink(os.readlink(src), dst)
        elif entry.is_dir(follow_symlinks=False):
            os.mkdir(dst, 0o700)
            _copy_tree(src, dst)
        elif entry.is_file(follow_symlinks=False):
            _copy_file(src, dst)
        else:
            continue
        os.lchown(dst, st.st_uid, st.st_gid)
        if not entry.is_symlink():
            os.chmod(dst, stat.S_IMODE(st.st_mode))


def _copy_file(source: bytes, target: bytes) -> None:
    fd_in = os.open(source, os.O_RDONLY | os.O_CLOEXEC | os.O_NOFOLLOW)
    try:
        fd_out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
        try:
            while os.sendfile(fd_out, fd_in, None, 1 << 24):
                pass
        finally:
            os.close(fd_out)
    finally:
        os.close(fd_in)


def bind(handle: int, target: bytes, writable: bool, flags: int = 0) -> None:
    """Bind what the O_PATH ``handle`` (opened before masks could hide it) names onto ``target``: read-only
    unless ``writable``, never setuid or devices, plus the host mount's own ``flags``."""
    L.mount(b"/proc/self/fd/%d" % handle, target, None, L.MS_BIND | L.MS_REC)
    access = 0 if writable else L.MS_RDONLY
    L.mount(None, target, None, L.MS_REMOUNT | L.MS_BIND | L.MS_NOSUID | L.MS_NODEV | flags | access)


def make_mountpoint(path: bytes, is_dir: bool) -> None:
    """An empty folder or file at ``path`` (in a tmpfs) to bind onto."""
    if is_dir:
        os.makedirs(path, exist_ok=True)
        return
    os.makedirs(os.path.dirname(path), exist_ok=True)
    os.close(os.open(path, os.O_CREAT | os.O_WRONLY | os.O_CLOEXEC, 0o644))
