"""Compiles MSL source for the host device at run time: translate, compile with clang (>= 17)
into a shared object, cache it on disk by content hash (a second process reuses it)."""

from __future__ import annotations

import functools
import hashlib
import os
import platform
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from metallic._msl.translate import TranslateError, translate

PACKAGE_MSL = Path(__file__).resolve().parent
INCLUDE_DIR = PACKAGE_MSL / "include"
RUNTIME_LIB = PACKAGE_MSL / "lib" / "libmetallic_msl_runtime.a"
CACHE_VERSION = "2"  # bump when the generated code's ABI changes


class CompileError(Exception):
    """The source did not translate or compile; the message names the user's file and line."""


def cache_dir() -> Path:
    """METALLIC_CACHE_DIR, else $XDG_CACHE_HOME/metallic, else ~/.cache/metallic."""
    env = os.environ.get("METALLIC_CACHE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "metallic" / "host-kernels"


# The kernel compiler: a clang that compiles PROBE with the rounding flags, i.e. clang >= 17
# with __bf16 arithmetic (see cpp/src/backends/host/msl/kernel_compiler.cmake, which the build
# uses, with the same probe and names in the same order).
KERNEL_COMPILERS = ["clang++", *(f"clang++-{v}" for v in range(21, 16, -1))]
# Each half and bfloat operation rounds to its type, as on the GPU (clang's default keeps
# float precision across an expression).
ROUNDING_FLAGS = [
    "-Xclang",
    "-ffloat16-excess-precision=none",
    "-Xclang",
    "-fbfloat16-excess-precision=none",
]
PROBE = (
    "int main() { volatile float f = 3; __bf16 b = (__bf16)f; _Float16 h = (_Float16)f;\n"
    "  return int(float(b * b) + float(h * h)); }\n"
)


@functools.cache
def _is_kernel_compiler(cxx: str) -> bool:
    """True if `cxx` compiles PROBE (a clang >= 17 with __bf16 and _Float16 arithmetic)."""
    cmd = [cxx, "-x", "c++", "-std=c++17", *ROUNDING_FLAGS, "-c", "-", "-o", os.devnull]
    try:
        return subprocess.run(cmd, input=PROBE, capture_output=True, text=True).returncode == 0
    except OSError:
        return False


def compiler() -> str:
    """The clang++ that compiles kernels: $METALLIC_KERNEL_CXX, else the first of clang++,
    clang++-21 ... clang++-17 that compiles PROBE."""
    env = os.environ.get("METALLIC_KERNEL_CXX")
    if env:
        if not _is_kernel_compiler(env):
            raise CompileError(
                f"METALLIC_KERNEL_CXX={env} is not a clang >= 17 with __bf16 arithmetic"
            )
        return env
    for name in KERNEL_COMPILERS:
        path = shutil.which(name)
        if path and _is_kernel_compiler(path):
            return path
    raise CompileError(
        "compiling kernels for the host device needs clang >= 17 (with __bf16 arithmetic), and "
        f"none was found (tried {', '.join(KERNEL_COMPILERS)}): install one (Debian 12: "
        "apt-get install clang-19; Debian 13 / Ubuntu 24.04: apt-get install clang; macOS: the "
        "Xcode command line tools) or set METALLIC_KERNEL_CXX"
    )


def kernel_flags() -> list[str]:
    """The flags the build gives translated kernels (METALLIC_HOST_KERNEL_FLAGS in
    kernel_compiler.cmake); the warnings turned off are about what MSL allows."""
    flags = [
        "-std=c++17",
        "-fPIC",
        "-fno-strict-aliasing",
        *ROUNDING_FLAGS,
        "-Wno-unknown-attributes",
        "-Wno-unknown-pragmas",
        "-Wno-duplicate-decl-specifier",
        "-Wno-c99-designator",
    ]
    machine = platform.machine().lower()
    # Big stack frames probe their pages in order, so a large local array overflowing a fiber
    # stack hits its guard (a DeviceError) instead of writing over a neighbouring mapping.
    # (macOS probes big frames already.)
    if sys.platform.startswith("linux"):
        flags.append("-fstack-clash-protection")
    if machine in ("x86_64", "amd64"):
        flags.append("-mf16c")  # half arithmetic in a few instructions
    elif machine in ("aarch64", "arm64"):
        flags.append("-fsigned-char")  # MSL's char is signed
    return flags


def compile_host_library(
    source: str, name: str, include_dirs: list[str], checks: bool = False
) -> Path:
    """Path of the shared object for `source`, compiling it unless the cache has it. With
    `checks`, the debug-checked translation (for contexts with host_checks)."""
    if not RUNTIME_LIB.exists():
        raise CompileError(
            f"the MSL runtime library is missing ({RUNTIME_LIB}); reinstall metallic"
        )
    cxx = compiler()
    debug = os.environ.get("METALLIC_HOST_DEBUG", "0") not in ("", "0")
    with tempfile.TemporaryDirectory(prefix="metallic-") as tmp:
        # The source is kept beside the cache under a name derived from its content: the line
        # markers of the translation (hence the cache key) are the same in every process, and
        # gdb finds the .metal lines of a debug build there.
        src_dir = _source_dir(source, name)
        src = src_dir / f"{name}.metal"
        if not src.exists():
            partial_src = src.with_suffix(f".{os.getpid()}.tmp")
            partial_src.write_text(source)
            os.replace(partial_src, src)
        try:
            tr = translate([src], [Path(d) for d in include_dirs], name, None, cxx, checks)
        except TranslateError as e:
            raise CompileError(_user_paths(str(e), str(src_dir), name)) from None
        flags = [
            *(["-O0", "-g"] if debug else ["-O2"]),
            "-shared",
            "-fvisibility=hidden",
            "-pthread",
            *kernel_flags(),
        ]
        # The translation holds the user's headers (preprocessed in); the emulated stdlib's
        # headers are included when it compiles, so their contents join the key.
        stamps = [_runtime_stamp(), _stdlib_headers_digest()]
        key = hashlib.sha256(
            "\0".join([CACHE_VERSION, cxx, *flags, tr.cpp, *stamps]).encode()
        ).hexdigest()[:32]
        out = cache_dir() / f"{name}{'-checked' if checks else ''}-{key}.so"
        if out.exists():
            return out
        cpp = Path(tmp) / f"{name}.cpp"
        cpp.write_text(tr.cpp)
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_suffix(f".{os.getpid()}.tmp")
        cmd = [cxx, *flags, "-I", str(INCLUDE_DIR), str(cpp), str(RUNTIME_LIB), "-o", str(partial)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            raise CompileError(
                _user_paths(_user_paths(proc.stderr.strip(), tmp, name), str(src_dir), name)
            )
        os.replace(partial, out)  # atomic: a concurrent process sees all of it or nothing
        return out


def _source_dir(source: str, name: str) -> Path:
    key = hashlib.sha256(f"{name}\0{source}".encode()).hexdigest()[:16]
    path = cache_dir() / f"src-{key}"
    path.mkdir(parents=True, exist_ok=True)
    return path


@functools.cache
def _stdlib_headers_digest() -> str:
    """A hash of the emulated stdlib's headers (INCLUDE_DIR): each one's name and contents."""
    lines = [
        f"{path.relative_to(INCLUDE_DIR)} {hashlib.sha256(path.read_bytes()).hexdigest()}\n"
        for path in sorted(INCLUDE_DIR.rglob("*"))
        if path.is_file()
    ]
    return hashlib.sha256("".join(lines).encode()).hexdigest()


def _runtime_stamp() -> str:
    stat = RUNTIME_LIB.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _user_paths(message: str, directory: str, name: str) -> str:
    """Compiler messages name the temporary copy of the source; show `<name>.metal` instead."""
    return re.sub(re.escape(directory) + r"/", "", message).replace(f"{name}.cpp", f"{name}.metal")
