"""Compiles MSL source for the host device at run time: translate, compile with the system C++
compiler into a shared object, cache it on disk by content hash (a second process reuses it)."""

from __future__ import annotations

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


def compiler() -> str:
    cxx = os.environ.get("CXX") or shutil.which("c++") or shutil.which("g++")
    if not cxx:
        raise CompileError(
            "no C++ compiler found for the host device: install g++ (or set CXX) to compile "
            "kernels at run time"
        )
    return cxx


def kernel_flags() -> list[str]:
    """The flags the build uses for translated kernels (see CMakeLists.txt)."""
    machine = platform.machine().lower()
    # Big stack frames probe their pages in order, so a large local array overflowing a fiber
    # stack hits its guard (a DeviceError) instead of writing over a neighbouring mapping.
    # (macOS probes big frames already.)
    flags = ["-fstack-clash-protection"] if sys.platform.startswith("linux") else []
    if machine in ("x86_64", "amd64"):
        return [*flags, "-mf16c"]
    if machine in ("aarch64", "arm64"):
        return [*flags, "-fsigned-char"]
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
            "-std=c++17",
            *(["-O0", "-g"] if debug else ["-O2"]),
            "-shared",
            "-fPIC",
            "-fvisibility=hidden",
            "-pthread",
            "-Wno-attributes",
            "-Wno-unknown-pragmas",
            "-fno-strict-aliasing",
            *kernel_flags(),
        ]
        key = hashlib.sha256(
            "\0".join([CACHE_VERSION, cxx, *flags, tr.cpp, _runtime_stamp()]).encode()
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


def _runtime_stamp() -> str:
    stat = RUNTIME_LIB.stat()
    return f"{stat.st_size}:{stat.st_mtime_ns}"


def _user_paths(message: str, directory: str, name: str) -> str:
    """Compiler messages name the temporary copy of the source; show `<name>.metal` instead."""
    return re.sub(re.escape(directory) + r"/", "", message).replace(f"{name}.cpp", f"{name}.metal")
