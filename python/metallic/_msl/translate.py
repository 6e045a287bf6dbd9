"""Translates a Metal Shading Language kernel library into one C++ translation unit for the host
device.

MSL is C++14 with address-space qualifiers, attributes and a standard library. The emulated
standard library (cpp/src/backends/host/msl/include) supplies the types and functions; this module
does the few rewrites that a header cannot:

* preprocesses the user's sources with the system compiler (their macros, #includes and #if run
  as on the GPU; `<metal_*>` headers resolve to empty stubs) keeping line markers, so compile
  errors and debuggers point at the .metal file and line;
* half literals (`1.0h`), multi-letter swizzles (`v.xy`, `v.zyx = ...`), `static_cast` (so
  that half and bfloat convert to each other, as in MSL);
* threadgroup variables declared in function bodies (storage shared by one threadgroup);
* function constants (`[[function_constant(i)]]` values set per pipeline);
* a launcher per kernel entry point (including template instantiations named with
  `[[host_name("...")]]`) that binds [[buffer]], [[threadgroup]] and builtin parameters, and the
  exported library table of metallic_host_abi.h.

Standard library only: it runs at build time from the source tree and at run time from the
installed package.
"""

from __future__ import annotations

import argparse
import builtins
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

if __package__:
    from metallic._msl import address_spaces as _address_spaces
    from metallic._msl import checks as _checks
else:  # run as a script (the build): the modules next to this file
    import address_spaces as _address_spaces  # type: ignore[import-not-found,no-redef]
    import checks as _checks  # type: ignore[import-not-found,no-redef]

STUB_INCLUDE = Path(__file__).resolve().parent / "stub_include"
METAL_VERSION = "310"

# Builtin attribute -> expression over `__ids` (metal_host::ThreadIds) in the launcher.
BUILTINS = {
    "thread_position_in_grid": "__ids.thread_position_in_grid",
    "thread_position_in_threadgroup": "__ids.thread_position_in_threadgroup",
    "threadgroup_position_in_grid": "__ids.threadgroup_position_in_grid",
    "threads_per_grid": "__ids.threads_per_grid",
    "threads_per_threadgroup": "__ids.threads_per_threadgroup",
    "threadgroups_per_grid": "__ids.threadgroups_per_grid",
    "dispatch_threads_per_threadgroup": "__ids.dispatch_threads_per_threadgroup",
    "thread_index_in_threadgroup": "__ids.thread_index_in_threadgroup",
    "thread_index_in_simdgroup": "__ids.thread_index_in_simdgroup",
    "simdgroup_index_in_threadgroup": "__ids.simdgroup_index_in_threadgroup",
    "simdgroups_per_threadgroup": "__ids.simdgroups_per_threadgroup",
    "dispatch_simdgroups_per_threadgroup": "__ids.simdgroups_per_threadgroup",
    "thread_index_in_quadgroup": "__ids.thread_index_in_quadgroup",
    "quadgroup_index_in_threadgroup": "__ids.quadgroup_index_in_threadgroup",
    "quadgroups_per_threadgroup": "__ids.quadgroups_per_threadgroup",
    "dispatch_quadgroups_per_threadgroup": "__ids.quadgroups_per_threadgroup",
    "threads_per_simdgroup": "32u",
    "thread_execution_width": "32u",
}

# Identifiers whose use means the threads of a threadgroup must run as fibers.
SYNC_PATTERN = re.compile(
    r"^(threadgroup_barrier|simdgroup_barrier|(__metal_)?(simd|quad)_\w+|simdgroup_multiply\w*)$"
)

SWIZZLE = re.compile(r"^([xyzw]{2,4}|[rgba]{2,4})$")
SWIZZLE_INDEX = {c: i for i, c in enumerate("xyzw")} | {c: i for i, c in enumerate("rgba")}
FLOAT_LITERAL = re.compile(r"^((\d+\.\d*|\.\d+)([eE][+-]?\d+)?|\d+[eE][+-]?\d+)$")
ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
UNROLL_PRAGMA = re.compile(r"#\s*pragma\s+unroll\s*\((.*)\)\s*$", re.DOTALL)
# Keywords followed by a parenthesised expression, not a parameter list.
CONTROL_KEYWORDS = {"if", "while", "for", "switch", "return", "sizeof", "decltype", "alignof"}
# Identifiers after which a name starts an expression, not a declaration (`return n;`).
EXPRESSION_KEYWORDS = {"return", "case", "else", "do", "throw", "sizeof", "delete", "new"}
HALF_LITERAL = re.compile(r"^(\d+\.?\d*(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)[hH]$")

TOKEN = re.compile(
    r"""
    (?P<ws>[ \t\r\n]+)
  | (?P<pp>\#[^\n]*(?:\\\n[^\n]*)*)
  | (?P<comment>//[^\n]*|/\*.*?\*/)
  | (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*')
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?[a-zA-Z_0-9]*)
  | (?P<ident>[A-Za-z_]\w*)
  | (?P<punct>\[\[|\]\]|::|->|<<=|>>=|<<|>>|<=|>=|==|!=|&&|\|\||\+\+|--|[-+*/%&|^!=<>]=|[{}()\[\];,.<>?:~!+\-*/%&|^=])
    """,
    re.VERBOSE | re.DOTALL,
)


class TranslateError(Exception):
    """A construct the host device cannot translate; the message starts with file:line."""


@dataclass
class Tok:
    kind: str
    text: str
    file: str = ""
    line: int = 0


# Kernel functions are renamed (the launcher names them, nothing else may): a kernel may be
# called `max`, `exp` or `transpose`, as a metal:: function, or `select`, as a C library one.
KERNEL_PREFIX = "__mtlh_kernel_"


@dataclass
class Param:
    name: str
    attribute: str  # buffer, threadgroup, or a builtin name
    index: int = 0
    type_text: str = ""  # as spelled (for error messages from the host device's argument checks)
    guard: str | None = None  # C++ condition of [[function_constant(c)]]: bound only while true

    @property
    def optional(self) -> bool:
        """A [[function_constant(...)]] parameter: may be left unbound."""
        return self.guard is not None


@dataclass
class Kernel:
    host_name: str  # the name the runtime looks up
    call: str  # C++ expression naming the function (with template arguments)
    params: list[Param]
    uses_sync: bool = False
    max_threads: int = 1024  # [[max_total_threads_per_threadgroup(n)]], else the device limit
    threadgroup_ids: list[int] | None = None  # threadgroup variables its code may declare


@dataclass
class FunctionDef:
    name: str
    params: list[Param] | None  # parsed parameters, for kernels
    is_kernel: bool
    body: tuple[int, int]  # token range of the body, braces included
    is_template: bool = False
    max_threads: int = 1024


def tokenize(text: str) -> list[Tok]:
    """Splits preprocessed text into tokens, tracking the .metal file and line of each."""
    tokens: list[Tok] = []
    pos, file, line = 0, "<source>", 1
    marker = re.compile(r'#\s*(?:line\s+)?(\d+)\s+"([^"]*)"')
    while pos < len(text):
        m = TOKEN.match(text, pos)
        if not m:
            raise TranslateError(f"{file}:{line}: error: unexpected character {text[pos]!r}")
        kind = m.lastgroup or "punct"
        tok_text = m.group()
        tokens.append(Tok(kind, tok_text, file, line))
        if kind == "pp":
            mm = marker.match(tok_text)
            if mm:
                file, line = mm.group(2), int(mm.group(1)) - 1
        line += tok_text.count("\n")
        pos = m.end()
    return tokens


def error(tok: Tok, message: str) -> TranslateError:
    return TranslateError(f"{tok.file}:{tok.line}: error: {message}")


class Translator:
    def __init__(self, tokens: list[Tok]):
        self.toks = tokens
        # Indices of the significant tokens (not whitespace, comments or preprocessor lines).
        self.sig = [i for i, t in enumerate(tokens) if t.kind not in ("ws", "comment", "pp")]
        self.kernels: list[Kernel] = []
        self.functions: dict[str, FunctionDef] = {}
        self.constants: dict[str, tuple[str, int]] = {}
        self.threadgroup_ids = 0
        self.threadgroup_decls: list[tuple[int, int]] = []  # (token index, variable id)
        self.bodies: dict[str, list[tuple[int, int]]] = {}  # function/type -> body ranges
        self.derived: dict[str, str] = {}  # program-scope constant -> function computing it
        self.namespaces: list[str] = []  # enclosing namespaces during scan_top_level

    # -- helpers over significant tokens --------------------------------------------------------
    def text(self, k: int) -> str:
        return self.toks[self.sig[k]].text if 0 <= k < len(self.sig) else ""

    def tok(self, k: int) -> Tok:
        return self.toks[self.sig[min(k, len(self.sig) - 1)]]

    def set(self, k: int, text: str) -> None:
        self.toks[self.sig[k]].text = text

    def match(self, k: int, open_: str, close: str) -> int:
        """Index of the bracket closing the one at k."""
        depth = 0
        for j in range(k, len(self.sig)):
            t = self.text(j)
            if t == open_ or (open_ == "[" and t == "[["):
                depth += 1 if t == open_ else 2
            elif t == close or (close == "]" and t == "]]"):
                depth -= 1 if t == close else 2
            if depth <= 0:
                return j
        raise error(self.tok(k), f"unbalanced '{open_}'")

    # -- passes ---------------------------------------------------------------------------------
    def run(self) -> None:
        self.unroll_pragmas()
        self.literals_and_swizzles()
        self.scan_top_level()
        self.rewrite_function_constants()
        self.rewrite_threadgroup_variables()
        self.mark_sync()
        self.strip_attributes_and_keywords()

    def unroll_pragmas(self) -> None:
        """`#pragma unroll(MIN(N, 4))`: the preprocessor does not expand pragma arguments, so the
        count names macros that are gone by the time the compiler reads it; such a pragma
        becomes `#pragma unroll` (a hint either way). Literal counts stay."""
        for t in self.toks:
            m = UNROLL_PRAGMA.match(t.text) if t.kind == "pp" else None
            if m and not m.group(1).strip().isdigit():
                t.text = "#pragma unroll"

    def literals_and_swizzles(self) -> None:
        for k in range(len(self.sig)):
            t = self.text(k)
            if self.tok(k).kind == "number":
                m = HALF_LITERAL.match(t)
                if m:
                    self.set(k, f"half({m.group(1)}f)")
                elif FLOAT_LITERAL.match(t):
                    self.set(k, t + "f")  # MSL has no double: unsuffixed literals are float
            elif t == "static_cast" and self.text(k + 1) == "<":
                # half <-> bfloat converts in MSL but not between clang's _Float16 and __bf16.
                self.set(k, "::metal_host::msl_static_cast")
            elif self.tok(k).kind == "ident" and self.text(k - 1) == "." and SWIZZLE.match(t):
                idx = ",".join(str(SWIZZLE_INDEX[c]) for c in t)
                ref = self.text(k + 1) in ASSIGN_OPS
                self.set(k, f"template swizzle{'_ref' if ref else ''}<{idx}>()")

    def scan_top_level(self) -> None:
        """Finds function definitions, kernels, function constants and host_name instantiations."""
        k = 0
        n = len(self.sig)
        statement_start = 0
        while k < n:
            t = self.text(k)
            if t == "{":
                # A top-level brace: a function body, a namespace, a struct, or an initialiser.
                head = [self.text(j) for j in range(statement_start, k)]
                end = self.match(k, "{", "}")
                if "namespace" in head[:3] or (head and head[0] == "extern"):
                    # Enter namespaces: continue scanning inside.
                    name = ""
                    if "namespace" in head:
                        rest = head[head.index("namespace") + 1 :]
                        name = "::".join(w for w in rest if w not in ("::", "inline"))
                    self.namespaces.append(name)
                    statement_start = k + 1
                    k += 1
                    continue
                if head and head[-1] == ")" and "struct" not in head and "class" not in head:
                    self.function_definition(statement_start, k, end)
                    self.add_body(self.text(self.match_back(self.last_paren(k)) - 1), k, end)
                elif "struct" in head or "class" in head or "union" in head:
                    self.struct_definition(statement_start, k, end)
                k = end + 1
                if self.text(k) == ";":
                    k += 1
                statement_start = k
                continue
            if t == "}":  # end of a namespace
                if self.namespaces:
                    self.namespaces.pop()
                statement_start = k + 1
            elif t == ";":
                self.declaration(statement_start, k)
                statement_start = k + 1
            elif t == "(":
                k = self.match(k, "(", ")")
            elif t == "[[":
                k = self.match(k, "[", "]")
            k += 1

    def parse_params(self, open_: int, close: int) -> list[Param]:
        params: list[Param] = []
        j = open_ + 1
        while j < close:
            start = j
            depth = 0
            while j < close and not (self.text(j) == "," and depth == 0):
                if self.text(j) in ("(", "[[", "<", "["):
                    depth += 1
                elif self.text(j) in (")", "]]", ">", "]"):
                    depth -= 1
                j += 1
            name, attrs, name_at = "", [], start
            for q in range(start, j):
                if self.text(q) == "[[":
                    end = self.match(q, "[", "]")
                    attrs += _split_attributes("".join(self.text(x) for x in range(q + 1, end)))
                elif self.tok(q).kind == "ident" and not attrs:
                    name, name_at = self.text(q), q
            type_text = (
                " ".join(self.text(q) for q in range(start, name_at) if self.tok(q).kind != "ws")
                .replace(" *", "*")
                .replace(" &", "&")
            )
            guards = [a for a in attrs if a.startswith("function_constant")]
            attrs = [a for a in attrs if not a.startswith("function_constant")]
            guard = self.guard(guards[0], start) if guards else None
            if not attrs:
                # Metal gives device/constant (threadgroup) pointers, references and arrays
                # without an attribute the first free [[buffer]] ([[threadgroup]]) index, in
                # order (a [[function_constant(c)]] alone does not count as one).
                words = {self.text(q) for q in range(start, j)}
                declarator = words & {"*", "&", "["}
                if declarator and words & {"device", "constant"}:
                    params.append(Param(name, "buffer", -1, type_text, guard))
                elif declarator and "threadgroup" in words:
                    params.append(Param(name, "threadgroup", -1, type_text, guard))
                else:
                    raise error(
                        self.tok(start),
                        f"kernel parameter '{name}' has no attribute and is not a device, "
                        "constant or threadgroup pointer, reference or array ([[stage_in]] and "
                        "textures are not supported on the host device)",
                    )
                j += 1
                continue
            m = re.match(r"(\w+)(?:\((\d+)\))?", attrs[0])
            kind = m.group(1) if m else attrs[0]
            if kind not in ("buffer", "threadgroup") and kind not in BUILTINS:
                what = f"unsupported kernel parameter attribute [[{attrs[0]}]] on '{name}'"
                if kind in ("texture", "sampler", "stage_in", "visible_function_table"):
                    what += (
                        f": {kind} parameters are not supported on the host device "
                        "(compute kernels with buffers and threadgroup memory only)"
                    )
                raise error(self.tok(start), what)
            index = int(m.group(2)) if m and m.group(2) else 0
            params.append(Param(name, kind, index, type_text, guard))
            j += 1
        for kind in ("buffer", "threadgroup"):
            used = {p.index for p in params if p.attribute == kind and p.index >= 0}
            for p in params:
                if p.attribute == kind and p.index < 0:
                    p.index = next(i for i in range(len(params) + len(used) + 1) if i not in used)
                    used.add(p.index)
        return params

    def guard(self, attribute: str, at: int) -> str:
        """The C++ condition of a parameter's [[function_constant(name)]]."""
        name = attribute[len("function_constant(") : -1].strip()
        if name in self.constants:
            return f"::metal_host::function_constant<bool>({self.constants[name][1]})"
        if name in self.derived:
            return f"{self.derived[name]}()"
        raise error(self.tok(at), f"[[{attribute}]]: '{name}' is not a function constant")

    def function_definition(self, start: int, brace: int, end: int) -> None:
        head = [self.text(j) for j in range(start, brace)]
        close = brace - 1
        # Skip trailing qualifiers between ')' and '{' (const, noexcept...) - rare in MSL.
        while self.text(close) != ")":
            close -= 1
        open_ = self.match_back(close)
        name = self.text(open_ - 1)
        if self.text(open_ - 2) == "operator" or self.tok(open_ - 1).kind != "ident":
            return
        is_kernel = "kernel" in head
        is_template = head[0] == "template"
        params = self.parse_params(open_, close) if is_kernel else None
        attributes = self.attributes_in(start, open_)
        limits = [a for a in attributes if a.startswith("max_total_threads_per_threadgroup")]
        max_threads = _max_threads(limits[0]) if limits else 1024
        fn = FunctionDef(name, params, is_kernel, (brace, end), is_template, max_threads)
        self.functions.setdefault(name, fn)
        if is_kernel:
            self.functions[name] = fn
            self.set(open_ - 1, KERNEL_PREFIX + name)
            if not is_template:
                host_names = [a for a in attributes if a.startswith("host_name")]
                host = _host_name(host_names[0]) if host_names else name
                call = self.qualified(KERNEL_PREFIX + name)
                self.kernels.append(Kernel(host, call, params or [], max_threads=max_threads))

    def attributes_in(self, start: int, stop: int) -> list[str]:
        out = []
        k = start
        while k < stop:
            if self.text(k) == "[[":
                end = self.match(k, "[", "]")
                out += _split_attributes("".join(self.text(j) for j in range(k + 1, end)))
                k = end
            k += 1
        return out

    def match_back(self, close: int) -> int:
        depth = 0
        for j in range(close, -1, -1):
            if self.text(j) == ")":
                depth += 1
            elif self.text(j) == "(":
                depth -= 1
                if depth == 0:
                    return j
        raise error(self.tok(close), "unbalanced ')'")

    def declaration(self, start: int, semi: int) -> None:
        """Top-level declarations: function constants and [[host_name]] instantiations."""
        self.rename_kernel_references(start, semi)
        words = [self.text(j) for j in range(start, semi)]
        attrs = self.attributes_in(start, semi)
        fc = [a for a in attrs if a.startswith("function_constant")]
        if fc and words[:1] != ["template"]:  # (an instantiation's parameters may have them)
            index = constant_index(fc[0])
            if index is None:
                raise error(
                    self.tok(start),
                    f"[[{fc[0]}]]: the index must be an integer expression of literals and "
                    "macros (enumerators are not evaluated on the host device)",
                )
            j = start
            while self.text(j) != "[[":
                j += 1
            name = self.text(j - 1)
            type_text = " ".join(
                w for w in words[: j - 1 - start] if w not in ("constant", "const")
            )
            self.constants[name] = (type_text, index)
            for q in range(start, semi + 1):
                self.set(q, "")
            return
        if "constant" in words[:4] and "=" in words and not attrs:
            self.derived_constant(start, semi)
            return
        if words and words[0] == "template" and any(a.startswith("host_name") for a in attrs):
            host = _host_name(next(a for a in attrs if a.startswith("host_name")))
            # The instantiated function: the last `name<...>` before its parameter list (the
            # first '(' outside decltype(...) and attributes), or before ';' in the
            # `decltype(f<T>) f<T>;` form. Template arguments may be any types.
            j = start
            call = None
            base = ""
            while j < semi:
                t = self.text(j)
                if t == "[[":
                    j = self.match(j, "[", "]")
                elif t == "decltype" and self.text(j + 1) == "(":
                    j = self.match(j + 1, "(", ")")
                elif t == "(":
                    break
                elif self.tok(j).kind == "ident" and self.text(j + 1) == "<":
                    end = self.match_angle(j + 1)
                    q0 = j
                    while self.text(q0 - 1) == "::" and self.tok(q0 - 2).kind == "ident":
                        q0 -= 2
                    call = "".join(self.text(q) for q in range(q0, end + 1))
                    base = self.text(j).removeprefix(KERNEL_PREFIX)
                    j = end
                j += 1
            if call is not None and "::" not in call.split("<")[0]:
                call = self.qualified(call)
            if call is None or base not in self.functions or not self.functions[base].is_kernel:
                raise error(
                    self.tok(start),
                    f"cannot find the kernel template instantiated as "
                    f"'{host}' (define the template kernel before instantiating it)",
                )
            template = self.functions[base]
            self.kernels.append(
                Kernel(host, call, list(template.params or []), max_threads=template.max_threads)
            )

    def rename_kernel_references(self, start: int, stop: int) -> None:
        """`kern<...>` of a kernel template in a declaration (an explicit instantiation,
        `typedef decltype(kern<float>) kern_t;`) names the renamed kernel."""
        for q in range(start, stop):
            fn = self.functions.get(self.text(q))
            if fn and fn.is_kernel and fn.is_template and self.text(q + 1) == "<":
                self.set(q, KERNEL_PREFIX + fn.name)

    def last_paren(self, brace: int) -> int:
        close = brace - 1
        while self.text(close) != ")":
            close -= 1
        return close

    def add_body(self, name: str, lo: int, hi: int) -> None:
        """Records a body (token range) under `name` for the sync analysis (mark_sync)."""
        self.bodies.setdefault(name, []).append((lo, hi))

    def struct_definition(self, start: int, brace: int, end: int) -> None:
        """A struct/class: its body is recorded under its name, and each member function's body
        under the member's name (a kernel that uses the type or calls the member may reach a
        barrier or SIMD function through it)."""
        head = [self.text(j) for j in range(start, brace)]
        key = next(i for i, w in enumerate(head) if w in ("struct", "class", "union"))
        name = head[key + 1] if key + 1 < len(head) else ""
        self.add_body(name, brace, end)
        k = brace + 1
        while k < end:
            t = self.text(k)
            if t == "{":
                close = self.match(k, "{", "}")
                q = k - 1
                while self.text(q) in ("const", "noexcept", "override", "final", "thread"):
                    q -= 1
                if self.text(q) == ")":
                    open_ = self.match_back(q)
                    member = self.text(open_ - 1)
                    if self.text(open_ - 2) == "operator" or member == "operator":
                        member = name
                    self.add_body(member, k, close)
                elif self.text(q) in ("struct", "class") or self.tok(q).kind == "ident":
                    # a nested struct: analyse it the same way
                    s0 = q
                    while s0 > brace + 1 and self.text(s0 - 1) not in (";", "{", "}", ":"):
                        s0 -= 1
                    if any(self.text(j) in ("struct", "class", "union") for j in range(s0, k)):
                        self.struct_definition(s0, k, close)
                k = close
            k += 1

    def derived_constant(self, start: int, semi: int) -> None:
        """`constant T name = <expression over function constants>;` at program scope (MLX:
        `constant bool has_w = is_function_constant_defined(w) && ...;`): its value is only known
        during a dispatch, so it becomes an inline function evaluated at each use."""
        eq = next(j for j in range(start, semi) if self.text(j) == "=")
        init = {self.text(j) for j in range(eq + 1, semi)}
        depends = "is_function_constant_defined" in init or any(
            w in self.constants or w in self.derived for w in init
        )
        if not depends or self.tok(eq - 1).kind != "ident":
            return
        name = self.text(eq - 1)
        type_text = " ".join(
            self.text(j)
            for j in range(start, eq - 1)
            if self.text(j) not in ("constant", "const", "static", "constexpr")
        )
        fn = f"__mtlh_fc_{name}"
        self.derived[name] = fn
        self.set(start, f"static inline {type_text} {fn}() {{ return (")
        for j in range(start + 1, eq + 1):
            self.set(j, "")
        self.set(semi, "); }")

    def qualified(self, name: str) -> str:
        """`name` qualified with the enclosing named namespaces."""
        spaces = [n for n in self.namespaces if n]
        return "::".join(["", *spaces, name]) if spaces else name

    def match_angle(self, k: int) -> int:
        """Index of the '>' closing the '<' at k; parenthesised template arguments (which may
        hold comparisons) are skipped whole."""
        depth = 0
        j = k
        while j < len(self.sig):
            t = self.text(j)
            if t == "<":
                depth += 1
            elif t == ">":
                depth -= 1
            elif t == ">>":
                depth -= 2
            elif t == "(":
                j = self.match(j, "(", ")")
            if depth <= 0:
                return j
            j += 1
        raise error(self.tok(k), "unbalanced '<'")

    def rewrite_function_constants(self) -> None:
        if not self.constants:
            return
        local = self.local_declarations(set(self.constants) | set(self.derived))
        for k in range(len(self.sig)):
            t = self.text(k)
            if k in local or self.text(k - 1) in (".", "->", "::"):
                continue
            if t in self.derived:
                self.set(k, f"{self.derived[t]}()")
            elif t == "is_function_constant_defined" and self.text(k + 1) == "(":
                name = self.text(k + 2)
                if name not in self.constants:
                    raise error(self.tok(k), f"'{name}' is not a function constant")
                self.set(k, f"::metal_host::function_constant_defined({self.constants[name][1]})")
                for q in (k + 1, k + 2, k + 3):
                    self.set(q, "")
            elif t in self.constants:
                type_text, index = self.constants[t]
                self.set(k, f"(::metal_host::function_constant<{type_text}>({index}))")

    def local_declarations(self, names: builtins.set[str]) -> builtins.set[int]:
        """Positions where one of `names` (program-scope constants) is a local name instead: its
        declaration as a parameter, template parameter or variable, and its uses in that scope
        (MLX's sdpa_vector declares `const int blocks = ...` beside the function constant
        `blocks`)."""
        out: set[int] = set()
        scopes: list[set[str]] = [set()]  # names declared in each enclosing block
        params: set[str] = set()  # declared in a parameter list whose body comes next
        for k in range(len(self.sig)):
            t = self.text(k)
            if t == "{":
                scopes.append(params)
                params = set()
            elif t == "}":
                if len(scopes) > 1:
                    scopes.pop()
            elif t == ";" and params and self.opener(k) is None:
                params = set()  # a declaration without a body
            elif t in names and self.text(k - 1) not in (".", "->", "::"):
                opener = self.opener(k)
                if self.declares(k, opener):
                    out.add(k)
                    (params if opener is not None else scopes[-1]).add(t)
                elif any(t in sc for sc in scopes):
                    out.add(k)
        return out

    def opener(self, k: int) -> int | None:
        """The unmatched `(` (or `[`, or a template's `<`) of the current statement that token k
        is inside, or None."""
        depth = 0
        for j in range(k - 1, -1, -1):
            t = self.text(j)
            if t in (")", "]"):
                depth += 1
            elif t in ("(", "["):
                if depth == 0:
                    return j
                depth -= 1
            elif t == "<" and depth == 0 and self.text(j - 1) == "template":
                return j
            elif t in (";", "{", "}") and depth == 0:
                return None
        return None

    def declares(self, k: int, opener: int | None) -> bool:
        """True if the identifier at k is being declared: `int n = `, `constant int& n [[...]]`,
        `T n,` in a (template) parameter list."""
        prev, nxt = self.text(k - 1), self.text(k + 1)
        in_list = opener is not None and (
            self.text(opener) == "<" or self.is_parameter_list(opener)
        )
        if self.tok(k - 1).kind == "ident" and prev not in EXPRESSION_KEYWORDS:
            return nxt in ("=", ";", "[", "[[", "{", ":") or (in_list and nxt in (",", ")", ">"))
        if prev in ("*", "&", "&&", ">"):
            return nxt in ("=", "[[") or (in_list and nxt in (",", ")"))
        return False

    def is_parameter_list(self, open_: int) -> bool:
        """True if the `(` at open_ starts the parameter list of a function definition: a
        name (not `if`, `while`, ...) before it and a body after it."""
        if self.tok(open_ - 1).kind != "ident" or self.text(open_ - 1) in CONTROL_KEYWORDS:
            return False
        q = self.match(open_, "(", ")") + 1
        while self.text(q) in ("const", "noexcept"):
            q += 1
        return self.text(q) in ("{", ":")

    def rewrite_threadgroup_variables(self) -> None:
        """`threadgroup T name[N];` in a function body -> storage of the current threadgroup."""
        # Every function body, including member functions of structs and lambdas: a statement
        # that starts with `threadgroup` (parameters follow '(' or ',' and are left alone).
        k = 0
        while k < len(self.sig):
            if self.text(k) == "threadgroup" and self.text(k - 1) in ("{", ";", "}", ")", ":"):
                semi = k
                while self.text(semi) != ";":
                    semi += 1
                self.threadgroup_declaration(k, semi)
                k = semi
            k += 1

    def threadgroup_declaration(self, k: int, semi: int) -> None:
        # The type is everything before the first declarator name (an identifier followed by
        # '[', ',' or ';' outside template arguments); a '*', '&', '(' or '=' before it means a
        # pointer or reference to threadgroup memory (or not a declaration): the keyword alone
        # goes (it is an empty macro).
        j = k + 1
        angle = 0
        while j < semi:
            t = self.text(j)
            if t == "<":
                angle += 1
            elif t == ">":
                angle -= 1
            elif t == ">>":
                angle -= 2
            elif angle <= 0 and t in ("*", "&", "&&", "(", "="):
                return
            elif (
                angle <= 0
                and self.tok(j).kind == "ident"
                and self.text(j + 1) in ("[", ",", ";", "=")
            ):
                break
            j += 1
        if j >= semi:
            return
        type_text = " ".join(self.text(q) for q in range(k + 1, j))
        pieces = []
        while j < semi:
            name = self.text(j)
            dims = ""
            j += 1
            while self.text(j) == "[":
                end = self.match(j, "[", "]")
                dims += "[" + " ".join(self.text(q) for q in range(j + 1, end)) + "]"
                j = end + 1
            vid = self.threadgroup_ids
            self.threadgroup_ids += 1
            init = ""
            if self.text(j) == "=":
                # MLX: `threadgroup float buf[32] = {0};`, applied once per threadgroup.
                start, depth = j + 1, 0
                while j + 1 < semi and not (depth == 0 and self.text(j + 1) == ","):
                    j += 1
                    depth += {"(": 1, "{": 1, "[": 1, ")": -1, "}": -1, "]": -1}.get(
                        self.text(j), 0
                    )
                value = " ".join(self.text(q) for q in range(start, j + 1))
                init = (
                    f", [&](void* __p) {{ {type_text} __init{dims} = {value}; "
                    "__builtin_memcpy(__p, &__init, sizeof __init); }"
                )
                j += 1
            self.threadgroup_decls.append((k, vid))
            # (The space: `MD<T>` and the closing `>` must not read as `>>`.)
            pieces.append(
                f"auto& {name} = ::metal_host::threadgroup_variable<{type_text}{dims} >({vid}{init})"
            )
            # Records the variable's size when the library loads (static_threadgroup_memory).
            pieces.append(f"(void)__mtlh_tg_size<{vid}, sizeof({type_text}{dims})>::registered")
            if self.text(j) == ",":
                j += 1
        for q in range(k, semi):
            self.set(q, "")
        self.set(k, "; ".join(pieces))

    def mark_sync(self) -> None:
        """A kernel uses sync if its body, or a function or type it names (transitively: member
        functions, operator(), template arguments of its instantiation), names a sync function.
        Over-approximates: a kernel marked by mistake runs as fibers, which is only slower."""
        uses: dict[str, bool] = {}
        calls: dict[str, set[str]] = {}
        for name, ranges in self.bodies.items():
            idents = {
                self.text(k)
                for lo, hi in ranges
                for k in range(lo, hi)
                if self.tok(k).kind == "ident"
            }
            uses[name] = any(SYNC_PATTERN.match(i) for i in idents)
            calls[name] = {i for i in idents if i in self.bodies and i != name}
        changed = True
        while changed:
            changed = False
            for name in self.bodies:
                if not uses[name] and any(uses[c] for c in calls[name]):
                    uses[name] = changed = True
        for kernel in self.kernels:
            base = kernel.call.split("<")[0].split("::")[-1]
            args = set(re.findall(r"[A-Za-z_]\w*", kernel.call[len(kernel.call.split("<")[0]) :]))
            kernel.uses_sync = uses.get(base, True) or any(uses.get(a, False) for a in args)
            # The threadgroup variables declared in the bodies it reaches (over-approximated the
            # same way), for static_threadgroup_memory.
            reached, todo = set(), [base, *args]
            while todo:
                name = todo.pop()
                if name in self.bodies and name not in reached:
                    reached.add(name)
                    todo.extend(calls[name])
            ranges = [r for name in reached for r in self.bodies[name]]
            kernel.threadgroup_ids = sorted(
                {vid for k, vid in self.threadgroup_decls if any(lo <= k < hi for lo, hi in ranges)}
            )

    def strip_attributes_and_keywords(self) -> None:
        k = 0
        while k < len(self.sig):
            if self.text(k) == "[[":
                end = self.match(k, "[", "]")
                for q in range(k, end + 1):
                    self.set(q, "")
                k = end
            k += 1


def constant_index(attribute: str) -> int | None:
    """The index of `function_constant(<expr>)`: a literal, or arithmetic on literals (what
    `function_constant(FC_BASE + 22)` is once the preprocessor has expanded the macro)."""
    m = re.fullmatch(r"function_constant\((.*)\)", attribute.strip(), re.S)
    if not m or not re.fullmatch(r"[\d\s+\-*/%()]+", m.group(1)):
        return None
    expr = m.group(1).replace("/", "//")  # C integer division
    return int(eval(expr, {"__builtins__": {}}))  # noqa: S307 - digits and operators only


def _split_attributes(text: str) -> list[str]:
    """`buffer(2),function_constant(c)` -> the attributes, split at commas outside parentheses
    and string literals."""
    parts, cur, depth, quoted, escaped = [], "", 0, False, False
    for ch in text:
        if quoted:
            quoted = escaped or ch != '"'
            escaped = not escaped and ch == "\\"
        elif ch == '"':
            quoted = True
        elif ch in "()":
            depth += 1 if ch == "(" else -1
        elif ch == "," and depth == 0:
            parts.append(cur)
            cur = ""
            continue
        cur += ch
    return [p.strip() for p in [*parts, cur] if p.strip()]


def _max_threads(attribute: str) -> int:
    """max_total_threads_per_threadgroup(n); an expression of template parameters (MLX's
    `WM * WN * 32`) cannot be evaluated here: the device limit, 1024, is a safe bound."""
    value = constant_index(
        attribute.replace("max_total_threads_per_threadgroup", "function_constant", 1)
    )
    return value if value is not None else 1024


def _host_name(attr: str) -> str:
    parts = re.findall(r'"((?:\\.|[^"\\])*)"', attr)  # adjacent literals concatenate
    if not parts:
        raise TranslateError(f"malformed attribute [[{attr}]]")
    return "".join(parts)


def preprocess(sources: list[Path], include_dirs: list[Path], compiler: str) -> str:
    """Runs the C preprocessor over the sources in order, with <metal_*> headers stubbed out.

    The sources are included from standard input, so the output names no temporary file and is
    the same in every process (it feeds the run-time compile cache's key)."""
    main = "".join(f'#include "{Path(s).resolve()}"\n' for s in sources)
    cmd = [
        compiler,
        "-E",
        "-x",
        "c++",
        "-std=c++17",
        f"-D__METAL_VERSION__={METAL_VERSION}",
        "-D__METAL__=1",
        "-D__HAVE_NATIVE_FAST_MATH__=1",
        "-D__HAVE_BFLOAT__=1",  # as on Apple GPUs with MSL >= 3.1: a bfloat type
        "-DMETALLIC_HOST_DEVICE=1",
        "-isystem",
        str(STUB_INCLUDE),
    ]
    for d in include_dirs:
        cmd += ["-I", str(d)]
    cmd.append("-")
    proc = subprocess.run(cmd, input=main, capture_output=True, text=True)
    if proc.returncode != 0:
        raise TranslateError(proc.stderr.strip().replace("<stdin>:1:", "<library>:"))
    # Drop the include flags of the sources' markers so compiler messages do not start with
    # "In file included from <stdin>".
    names = "|".join(re.escape(str(Path(x).resolve())) for x in sources)
    enter_source = re.compile(r'^(# \d+ "(?:' + names + r')") 1$', re.MULTILINE)
    back_to_main = re.compile(r'^(# \d+ "<stdin>") 2$', re.MULTILINE)
    return back_to_main.sub(r"\1", enter_source.sub(r"\1", proc.stdout))


# Sizes of threadgroup variables, registered by each declaration (per template instantiation: the
# largest counts) when the library loads.
THREADGROUP_SIZES = """\
namespace {
unsigned long long __mtlh_tg_sizes[%d];
template <unsigned Id, unsigned long long Size>
struct __mtlh_tg_size {
  static const bool registered;
};
template <unsigned Id, unsigned long long Size>
const bool __mtlh_tg_size<Id, Size>::registered =
    (__mtlh_tg_sizes[Id] = Size > __mtlh_tg_sizes[Id] ? Size : __mtlh_tg_sizes[Id], true);
}  // namespace"""


def render_library(name: str, unit_text: str, kernels: list[Kernel], threadgroup_ids: int) -> str:
    out = [
        '#include "metallic_msl_prelude.h"',
        THREADGROUP_SIZES % max(1, threadgroup_ids),
        unit_text,
        "",
        "// ---- generated launchers ----",
        '#line 1 "metallic-generated-launchers"',
        "namespace {",
    ]
    for i, k in enumerate(kernels):
        specs = []
        for p in k.params:
            if p.attribute == "buffer" and p.guard:
                specs.append(
                    f"::metal_host::guarded<::metal_host::BufferArg<{p.index}>, {p.index}>("
                    f"[] {{ return bool({p.guard}); }})"
                )
            elif p.attribute == "buffer":
                specs.append(f"::metal_host::BufferArg<{p.index}>{{}}")
            elif p.attribute == "threadgroup":
                specs.append(f"::metal_host::ThreadgroupArg<{p.index}>{{}}")
            else:
                specs.append(f"::metal_host::builtin_arg({BUILTINS[p.attribute]})")
        args = ", ".join(["__d", "__ids", "__g"] + specs)
        out.append(
            f"inline void __mtlh_body_{i}(const mtlh_dispatch* __d, const ::metal_host::ThreadIds& "
            f"__ids, ::metal_host::ThreadgroupState& __g) {{\n"
            f"  ::metal_host::invoke_kernel<&{k.call}>({args});\n}}\n"
            f"int __mtlh_run_{i}(const mtlh_dispatch* d, uint32_t first, uint32_t count, "
            f"char* err, size_t len) {{\n"
            f"  return ::metal_host::run_threadgroups<__mtlh_body_{i}, "
            f'{"true" if k.uses_sync else "false"}>(d, first, count, "{k.host_name}", err, len);\n}}'
        )
    out.append(PARAM_INFO)
    for i, k in enumerate(kernels):
        out.append(_param_table(i, k))
    out.append("mtlh_kernel __mtlh_kernels[] = {")
    for i, k in enumerate(kernels):
        out.append(
            f'  {{"{k.host_name}", __mtlh_run_{i}, {int(k.uses_sync)}, {k.max_threads}, 0, '
            f"__mtlh_params_{i}, sizeof __mtlh_params_{i} / sizeof(mtlh_param) - 1}},"
        )
    if not kernels:
        out.append("  {nullptr, nullptr, 0, 0, 0, nullptr, 0},")
    out.append("};")
    out.append(
        f'const mtlh_library __mtlh_library = {{METALLIC_HOST_ABI_VERSION, "{name}", '
        f"{len(kernels)}, __mtlh_kernels}};"
    )
    # Each kernel's static threadgroup memory: its variables, each rounded up to 16 bytes.
    sums = [
        " + ".join(f"(__mtlh_tg_sizes[{v}] + 15) / 16 * 16" for v in k.threadgroup_ids or []) or "0"
        for k in kernels
    ]
    out.append(
        "const mtlh_library* __mtlh_loaded() {\n"
        + "".join(
            f"  __mtlh_kernels[{i}].static_threadgroup_memory = {e};\n" for i, e in enumerate(sums)
        )
        + "  return &__mtlh_library;\n}"
    )
    out.append("}  // namespace")
    symbol = library_symbol(name)
    out.append(
        f'extern "C" __attribute__((visibility("default"))) const mtlh_library* {symbol}() '
        "{ return __mtlh_loaded(); }"
    )
    return "\n".join(out) + "\n"


# What the host device checks a dispatch's arguments against (mtlh_param): the size of what each
# [[buffer]] / [[threadgroup]] parameter points or refers to, as the C++ compiler sees its type.
PARAM_INFO = """\
template <class P, class = void>
struct __mtlh_pointee { using type = std::remove_pointer_t<P>; };
template <class P>  // checked pointers (host checks)
struct __mtlh_pointee<P, std::void_t<typename P::element_type>> { using type = typename P::element_type; };
template <class P>
constexpr uint64_t __mtlh_element_size() {
  using Q = std::remove_cv_t<std::remove_reference_t<P>>;
  using E = std::conditional_t<std::is_reference_v<P>, Q, typename __mtlh_pointee<Q>::type>;
  if constexpr (std::is_void_v<E>) return 0; else return sizeof(E);
}"""


def _param_table(i: int, k: Kernel) -> str:
    """mtlh_param entries of kernel `i` (one per [[buffer]] / [[threadgroup]] parameter, then a
    terminator, so that the array is never empty)."""
    rows = []
    for pos, p in enumerate(k.params):
        if p.attribute not in ("buffer", "threadgroup"):
            continue
        t = f"std::tuple_element_t<{pos}, __mtlh_sig_{i}>"
        kind = "MTLH_PARAM_BUFFER" if p.attribute == "buffer" else "MTLH_PARAM_THREADGROUP"
        rows.append(
            f"  {{{kind}, {p.index}, __mtlh_element_size<{t}>(), std::is_reference_v<{t}>, "
            f'{int(p.optional)}, "{p.name}", "{p.type_text}"}},'
        )
    rows.append("  {0, 0, 0, 0, 0, nullptr, nullptr},")
    return (
        f"using __mtlh_sig_{i} = ::metal_host::KernelSignature<decltype(&{k.call})>::Params;\n"
        f"const mtlh_param __mtlh_params_{i}[] = {{\n" + "\n".join(rows) + "\n};"
    )


def library_symbol(name: str | None) -> str:
    """Built-in libraries export metallic_host_library_<name>; run-time ones metallic_host_library."""
    return f"metallic_host_library_{name}" if name else "metallic_host_library"


@dataclass
class Translation:
    cpp: str
    kernels: list[Kernel]


def translate(
    sources: list[Path],
    include_dirs: list[Path],
    library: str,
    symbol_name: str | None,
    compiler: str = "c++",
    checks: bool = False,
) -> Translation:
    """Translates the sources of one kernel library into C++ (see module docstring). With
    `checks`, the debug-checked variant (checks.py): built-in ones export
    metallic_host_library_<name>_checked."""
    text = preprocess(sources, include_dirs, compiler)
    erased = Translator(tokenize(text))
    _address_spaces.run(erased, checked=checks)
    tr = Translator(tokenize("".join(t.text for t in erased.toks)))
    tr.run()
    seen: set[str] = set()
    for k in tr.kernels:
        if k.host_name in seen:
            raise TranslateError(
                f"kernel name '{k.host_name}' is defined twice in library {library}"
            )
        seen.add(k.host_name)
    unit = "".join(t.text for t in tr.toks)
    if checks:
        unit = _checks.rewrite(unit, tokenize)
    cpp = render_library(library, unit, tr.kernels, tr.threadgroup_ids)
    if checks:
        cpp = _checks.checked_launchers(cpp, tr.threadgroup_ids)
        if symbol_name is not None:
            checked = library_symbol(library + "_checked")
            cpp = cpp.replace(library_symbol(library) + "()", checked + "()")
    if symbol_name is None:
        cpp = cpp.replace(library_symbol(library) + "()", library_symbol(None) + "()")
    return Translation(cpp, tr.kernels)


def library_sources(library_dir: Path, repo_root: Path) -> list[Path]:
    """The sources of metal/<family>: metal.sources (one path per line, relative to the repo
    root) when present, else kernel.metal."""
    listing = library_dir / "metal.sources"
    if listing.exists():
        lines = [ln.strip() for ln in listing.read_text().splitlines()]
        return [repo_root / ln for ln in lines if ln and not ln.startswith("#")]
    return [library_dir / "kernel.metal"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--library", required=True, help="library name (metal/<family>)")
    ap.add_argument("--source", action="append", required=True, type=Path)
    ap.add_argument("--include", action="append", default=[], type=Path)
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--kernels-output", type=Path, help="write the kernel names, one per line")
    ap.add_argument("--compiler", default=os.environ.get("CXX", "c++"))
    ap.add_argument("--checks", action="store_true", help="the debug-checked variant")
    args = ap.parse_args(argv)
    try:
        result = translate(
            args.source, args.include, args.library, args.library, args.compiler, args.checks
        )
    except TranslateError as e:
        print(e, file=sys.stderr)
        return 1
    _write_if_changed(args.output, result.cpp)
    if args.kernels_output:
        _write_if_changed(args.kernels_output, "".join(k.host_name + "\n" for k in result.kernels))
    return 0


def _write_if_changed(path: Path, text: str) -> None:
    if not path.exists() or path.read_text() != text:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


if __name__ == "__main__":
    sys.exit(main())
