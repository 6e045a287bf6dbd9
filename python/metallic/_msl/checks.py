"""The "checked" translation of a kernel library (host debug checks, `translate(checks=True)`).

A pass over the translated unit (after translate.Translator ran), with the C++ side in
cpp/src/backends/host/msl/include/metal/runtime/checks.h:

* `device T*`, `constant T*`, `threadgroup T*` (parameters, locals, struct fields, casts) become
  `::metal_host::checked_ptr<T>` (pointer + the binding or threadgroup block it may point into);
* threadgroup variables (`threadgroup T name[N][M];`, which the translator turned into
  `auto& name = ::metal_host::threadgroup_variable<T[N][M]>(id)`) become
  `::metal_host::tg_array<T, N, M>` with a shadow of which bytes were written;
* on names declared with those types, `p[i]...` and `*p` become chk_read / chk_write /
  chk_update (by the syntax around them: `p[i] = v` writes, `p[i] += v` and `++p[i]` read and
  write, anything else reads), `&p[i]` becomes chk_addr. These are plain subscripts on anything
  that is not a checked pointer, so a name that is a pointer in one function and an array in
  another is harmless.

Everything else keeps compiling as before: checked_ptr behaves like a pointer (arithmetic,
comparisons, conversion to `const T*` and to a raw pointer for functions that take one).

Standard library only (it is imported by translate.py, which also runs as a script).
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable, Sequence
from typing import Protocol

ADDRESS_SPACES = {"device": False, "constant": True, "threadgroup": False}
ASSIGN_OPS = {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
# Identifiers after which a name starts an expression (not a declaration `Type name`).
EXPRESSION_KEYWORDS = {"return", "case", "else", "do", "throw", "sizeof", "co_return", "delete"}
RESTRICT = {"restrict", "__restrict", "__restrict__"}
NS = "::metal_host::"
# Standard-library functions with reference parameters that they write (at positions 0 or 1).
STD_OUT_REFERENCES = {"modf", "frexp", "sincos", "swap"}


class Token(Protocol):
    kind: str
    text: str


class _Stream:
    """The significant tokens of a unit (no whitespace, comments or line markers)."""

    def __init__(self, tokens: Sequence[Token]) -> None:
        # Attributes are gone by now, so a `]]` token closes two nested subscripts
        # (`out[idx[i]]`): split it so each `]` matches its own `[`.
        self.toks: list[Token] = []
        for t in tokens:
            if t.text == "]]":
                t.text = "]"
                self.toks += [t, copy.copy(t)]
            else:
                self.toks.append(t)
        self.sig = [i for i, t in enumerate(self.toks) if t.kind not in ("ws", "comment", "pp")]
        self.orig = [self.toks[i].text for i in self.sig]

    def __len__(self) -> int:
        return len(self.sig)

    def text(self, k: int) -> str:
        return self.orig[k] if 0 <= k < len(self.orig) else ""

    def kind(self, k: int) -> str:
        return self.toks[self.sig[k]].kind if 0 <= k < len(self.sig) else ""

    def set(self, k: int, text: str) -> None:
        self.toks[self.sig[k]].text = text

    def joined(self, lo: int, hi: int) -> str:
        return " ".join(self.text(q) for q in range(lo, hi))

    def match(self, k: int, open_: str, close: str) -> int:
        depth = 0
        for j in range(k, len(self.sig)):
            t = self.text(j)
            if t == open_:
                depth += 1
            elif t == close:
                depth -= 1
                if depth == 0:
                    return j
        return len(self.sig) - 1

    def match_angle(self, k: int) -> tuple[int, bool]:
        """Index of the token closing the '<' at k, and whether it is a '>>' closing one more."""
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
            elif t in ("(", "["):
                j = self.match(j, t, ")" if t == "(" else "]")
            elif t in (";", "{", "}"):
                break
            if depth <= 0:
                return j, depth < 0
            j += 1
        return -1, False

    def render(self) -> str:
        return "".join(t.text for t in self.toks)


def rewrite(unit: str, tokenize: Callable[[str], Sequence[Token]]) -> str:
    """The checked version of a translated unit (see the module docstring)."""
    names: set[str] = set()  # declared as checked pointers or threadgroup arrays
    scalars: set[str] = set()  # threadgroup variables without dimensions
    s = _Stream(tokenize(unit))
    _pointer_types(s, names)
    _threadgroup_variables(s, names, scalars)
    s = _Stream(tokenize(s.render()))
    _accesses(s, names, scalars)
    return s.render()


def checked_launchers(cpp: str, first_free_id: int) -> str:
    """The generated library with checked argument binding; `first_free_id` is the first
    threadgroup-variable id the translator did not use (for the shadows of [[threadgroup(i)]])."""
    cpp = "#define METALLIC_HOST_CHECKS 1\n" + cpp
    cpp = cpp.replace(NS + "BufferArg<", NS + "CheckedBufferArg<")
    return re.sub(
        re.escape(NS) + r"ThreadgroupArg<(\d+)>",
        lambda m: f"{NS}CheckedThreadgroupArg<{m[1]}, {first_free_id + int(m[1])}>",
        cpp,
    )


def _pointer_types(s: _Stream, names: set[str]) -> None:
    """`[const] device|constant|threadgroup [const] T [const] *` -> checked_ptr<[const] T>."""
    k = 0
    while k < len(s):
        space = s.text(k)
        if space not in ADDRESS_SPACES or s.kind(k) != "ident":
            k += 1
            continue
        is_const = ADDRESS_SPACES[space]
        type_toks: list[int] = []
        j = k + 1
        while j < len(s):
            t = s.text(j)
            if t == "<":
                end, _ = s.match_angle(j)
                if end < 0:
                    break
                type_toks.extend(range(j, end + 1))
                j = end + 1
            elif t == "::" or s.kind(j) == "ident":
                type_toks.append(j)
                j += 1
            else:
                break
        if s.text(j) != "*" or not type_toks:
            k += 1
            continue
        star = j
        parts = []
        for q in type_toks:
            if s.text(q) == "const":
                is_const = True
            elif s.text(q) != "volatile":
                parts.append(s.text(q))
        first = k
        if s.text(k - 1) == "const":
            is_const = True
            first = k - 1
        if s.text(first - 1) == "<" and s.text(first - 2) in ("reinterpret_cast", "const_cast"):
            s.set(first - 2, NS + "checked_pointer_cast")
        element = ("const " if is_const else "") + " ".join(parts)
        for q in range(first, star + 1):
            s.set(q, "")
        # `constant auto* p = q;` (MLX): `auto`, which deduces q's checked or raw pointer type.
        s.set(first, "auto" if parts == ["auto"] else f"{NS}checked_ptr<{element}>")
        j = star + 1
        while s.text(j) in RESTRICT:
            s.set(j, "")
            j += 1
        if s.text(j) == "const":
            j += 1
        if s.kind(j) == "ident" and s.text(j + 1) in (",", ")", "=", ";", "{", ":", "["):
            names.add(s.text(j))
        k = star + 1


def _threadgroup_variables(s: _Stream, names: set[str], scalars: set[str]) -> None:
    """`auto& name = ::metal_host::threadgroup_variable<T[N]>(id)` -> tg_array<T, (N)>."""
    for k in range(len(s)):
        if not (
            s.text(k) == "auto"
            and s.text(k + 1) == "&"
            and s.text(k + 3) == "="
            and s.text(k + 4) == "::"
            and s.text(k + 5) == "metal_host"
            and s.text(k + 7) == "threadgroup_variable"
            and s.text(k + 8) == "<"
        ):
            continue
        name = s.text(k + 2)
        close, extra = s.match_angle(k + 8)
        if close < 0 or s.text(close + 1) != "(":
            continue
        end = s.match(close + 1, "(", ")")
        comma = next((q for q in range(close + 2, end) if s.text(q) == ","), end)
        var_id = s.joined(close + 2, comma)
        init = s.joined(comma, end)  # ", <initialiser>" or nothing
        # The type, then the dimensions.
        j = k + 9
        type_end = j
        while type_end < close and s.text(type_end) != "[":
            if s.text(type_end) == "<":
                type_end = s.match_angle(type_end)[0]
            type_end += 1
        type_text = s.joined(j, min(type_end, close)) + (" >" if extra else "")
        dims = []
        j = type_end
        while j < close and s.text(j) == "[":
            dim_end = s.match(j, "[", "]")
            dims.append(f"({s.joined(j + 1, dim_end)})")
            j = dim_end + 1
        for q in range(k, end + 1):
            s.set(q, "")
        args = ", ".join([type_text, *dims])
        s.set(k, f'auto {name} = {NS}tg_array<{args}>({var_id}, "{name}"{init})')
        names.add(name)
        if not dims:
            scalars.add(name)


def _is_value_end(s: _Stream, k: int) -> bool:
    """True if token k ends an operand (so a following `&`/`*` is binary, not unary)."""
    t = s.text(k)
    if s.kind(k) in ("number", "string"):
        return True
    if s.kind(k) == "ident":
        return t not in EXPRESSION_KEYWORDS
    return t in (")", "]", "++", "--")


def _is_declaration(s: _Stream, k: int) -> bool:
    """True if the name at k is being declared (`Type name`, `Tmpl<...> name`, `Type& name`
    before `,`, `)`, `=` or `;`: candle's `threadgroup MD<T> &md_total` parameter)."""
    prev = s.text(k - 1)
    if s.kind(k - 1) == "ident":
        return prev not in EXPRESSION_KEYWORDS
    if prev in ("&", "&&") and s.text(k + 1) in (",", ")", "=", ";"):
        return _is_declaration(s, k - 1)  # what precedes the `&` declares a type
    if prev in (">", ">>"):
        # `checked_ptr<T> name`: the '>' closes a '<' that follows a name.
        depth = 0
        for j in range(k - 1, max(k - 200, -1), -1):
            t = s.text(j)
            if t == ">":
                depth += 1
            elif t == ">>":
                depth += 2
            elif t == "<":
                depth -= 1
                if depth == 0:
                    return s.kind(j - 1) == "ident"
            elif t in (";", "{", "}", "(", ")"):
                return False
    return False


def _member_chain_end(s: _Stream, j: int) -> int:
    """Skips `.m`, `->m`, `.template f<..>()`, calls and subscripts after an element access."""
    while s.text(j) in (".", "->"):
        j += 1
        templ = s.text(j) == "template"
        if templ:
            j += 1
        j += 1  # the member name
        if templ and s.text(j) == "<":
            end, _ = s.match_angle(j)
            j = end + 1 if end >= 0 else j
        if s.text(j) == "(":
            j = s.match(j, "(", ")") + 1
        while s.text(j) == "[":
            j = s.match(j, "[", "]") + 1
    return j


def _reference_parameters(s: _Stream) -> dict[str, set[int]]:
    """Function name -> positions of its non-const reference parameters (any overload)."""
    out: dict[str, set[int]] = {name: {0, 1} for name in STD_OUT_REFERENCES}
    for k in range(1, len(s)):
        if s.text(k) != "(" or s.kind(k - 1) != "ident":
            continue
        close = s.match(k, "(", ")")
        j = close + 1
        while s.text(j) in ("const", "noexcept", "override"):
            j += 1
        if s.text(j) not in ("{", ";", ":"):
            continue
        position, depth, has_ref, is_const = 0, 0, False, False
        for q in range(k + 1, close + 1):
            t = s.text(q)
            if t in ("(", "[", "<") and q < close:
                depth += 1
            elif t in (")", "]", ">") and q < close:
                depth -= 1
            elif depth == 0 and t in (",", ")"):
                if has_ref and not is_const:
                    out.setdefault(s.text(k - 1), set()).add(position)
                position, has_ref, is_const = position + 1, False, False
            elif depth == 0 and t == "&":
                has_ref = True
            elif depth == 0 and t in ("const", "constant"):
                is_const = True
    return out


def _bound_to_reference(s: _Stream, k: int, end: int, out_refs: dict[str, set[int]]) -> bool:
    """True if the access spanning tokens [k, end) may be bound to a non-const reference: a whole
    argument of a function with such a parameter there, or `T& r = p[i];`."""
    if s.text(k - 1) == "=" and s.text(k - 3) == "&" and s.text(end) == ";":
        return True
    if s.text(k - 1) not in ("(", ",") or s.text(end) not in (",", ")"):
        return False
    position, j = 0, k - 1
    while j >= 0:
        t = s.text(j)
        if t in (")", "]"):
            j = _match_back(s, j)
        elif t == "(":
            break
        elif t == ",":
            position += 1
        elif t in (";", "{", "}"):
            return False
        j -= 1
    callee = j - 1
    if s.text(callee) in (">", ">>"):  # `softmax<T, N>(...)`: the name before the `<`
        depth = 0
        while callee > 0:
            depth += {">": 1, ">>": 2, "<": -1}.get(s.text(callee), 0)
            callee -= 1
            if depth <= 0:
                break
    return s.kind(callee) == "ident" and position in out_refs.get(s.text(callee), set())


def _match_back(s: _Stream, close: int) -> int:
    open_ = "(" if s.text(close) == ")" else "["
    depth = 0
    for j in range(close, -1, -1):
        if s.text(j) == s.text(close):
            depth += 1
        elif s.text(j) == open_:
            depth -= 1
            if depth == 0:
                return j
    return 0


def _accesses(s: _Stream, names: set[str], scalars: set[str]) -> None:
    out_refs = _reference_parameters(s)
    for k in range(len(s)):
        name = s.text(k)
        if s.kind(k) != "ident" or name not in names:
            continue
        if s.text(k - 1) in (".", "->", "::") or _is_declaration(s, k):
            continue
        groups: list[tuple[int, int]] = []
        j = k + 1
        while s.text(j) == "[":
            end = s.match(j, "[", "]")
            groups.append((j, end))
            j = end + 1
        prefix = s.text(k - 1)
        unary_prefix = prefix in ("&", "*") and not _is_value_end(s, k - 2)
        deref = unary_prefix and prefix == "*" and not groups
        if deref and s.text(j) in ("[", "(", ".", "->", "++", "--"):
            continue  # `*p++`, `*p.x`...: left to checked_ptr's own operators
        if not groups and not deref and (name not in scalars or s.text(j) == "("):
            continue
        chain_end = _member_chain_end(s, j)
        after = s.text(chain_end)
        if unary_prefix and prefix == "&":
            # `&p[i]` is an address; `&p[i].m` the address of a member of an element.
            mode = "addr" if chain_end == j else "access"
        elif not unary_prefix and _bound_to_reference(s, k, chain_end, out_refs):
            mode = "access"
        elif (
            prefix in ("++", "--")
            or (after in ASSIGN_OPS and after != "=")
            or after in ("++", "--")
        ):
            mode = "update"
        elif after == "=":
            mode = "write"
        else:
            mode = "read"
        if unary_prefix and (mode == "addr" or deref):
            s.set(k - 1, "")
        head = f"{NS}chk_{mode}({name}"
        if deref:
            s.set(k, head + ", 0)")
        elif not groups:
            s.set(k, head + ")")
        else:
            s.set(k, head)
            for n, (lo, hi) in enumerate(groups):
                s.set(lo, ", (")
                s.set(hi, "))" if n == len(groups) - 1 else ")")
