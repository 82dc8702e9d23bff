"""The compilers and interpreters that non-Python seeds need, found where the sandbox looks for them.

A ShinkaEvolve evaluator compiles or runs its candidate with a toolchain (`go run`, `gfortran`, `julia`, ...).
Without it every candidate would fail the same way, after a run was created; so the task is refused up front
with one line naming the missing program and how to install it. The sandbox sees only the system's folders
(its PATH is Evolve's interpreter folder plus /usr/local/bin:/usr/bin:/bin), so a toolchain installed under
a home folder (e.g. ~/.cargo/bin) is not usable there and is reported as missing too.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from evolve.errors import ConfigError

SANDBOX_PATH = f"{Path(sys.executable).parent}:/usr/local/bin:/usr/bin:/bin"


@dataclass(frozen=True)
class Toolchain:
    language: str
    programs: tuple[str, ...]  # all must be present
    install: str  # how to get them on Debian/Ubuntu


# By the seed's file extension.
TOOLCHAINS: dict[str, Toolchain] = {
    ".py": Toolchain("python", (), ""),
    ".txt": Toolchain("text", (), ""),
    ".go": Toolchain("go", ("go",), "apt-get install golang-go"),
    ".jl": Toolchain("julia", ("julia",), "Debian has no julia package: install it from julialang.org into /usr/local"),
    ".f90": Toolchain("fortran", ("gfortran",), "apt-get install gfortran"),
    ".f": Toolchain("fortran", ("gfortran",), "apt-get install gfortran"),
    ".rs": Toolchain("rust", ("rustc", "cargo"), "apt-get install rustc cargo"),
    ".cpp": Toolchain("cpp", ("g++",), "apt-get install g++"),
    ".cc": Toolchain("cpp", ("g++",), "apt-get install g++"),
    ".c": Toolchain("c", ("gcc",), "apt-get install gcc"),
    ".cu": Toolchain("cuda", ("nvcc",), "install the CUDA toolkit (nvcc) under /usr/local"),
    ".sv": Toolchain("verilog", ("iverilog",), "apt-get install iverilog"),
    ".v": Toolchain("verilog", ("iverilog",), "apt-get install iverilog"),
    ".wl": Toolchain("wolfram", ("wolframscript",), "install Wolfram Engine (wolframscript); Debian has no package"),
    ".r": Toolchain("r", ("Rscript",), "apt-get install r-base-core"),
}


def language_of(seed: Path) -> str:
    chain = TOOLCHAINS.get(seed.suffix.lower())
    return chain.language if chain else seed.suffix.lstrip(".").lower() or "text"


def missing(seed: Path) -> list[str]:
    """The programs the seed's toolchain needs that the sandbox cannot find."""
    chain = TOOLCHAINS.get(seed.suffix.lower())
    return [p for p in chain.programs if shutil.which(p, path=SANDBOX_PATH) is None] if chain else []


def require(seed: Path) -> None:
    """Raise one clear ConfigError when the seed's toolchain is not installed where the sandbox sees it."""
    absent = missing(seed)
    if absent:
        chain = TOOLCHAINS[seed.suffix.lower()]
        raise ConfigError(str(seed), "", f"{chain.language} seeds need {' and '.join(absent)}, not found in "
                          f"/usr/local/bin, /usr/bin or /bin (where the sandbox looks); {chain.install}")
