"""Address spaces on the host device: one C++ memory, so `device`, `constant`, `thread` and
`threadgroup` are erased (`constant` reads as `const`), and what only an address space told
apart is made to compile the way Metal means it.

Why erased rather than kept in the type (clang's `address_space(N)`): in plain C++ an object in a
named address space has no usable copy constructor or assignment (the implicit ones take and
return generic references) and a member function cannot be qualified with an address space
(that is OpenCL C++ only), so a struct read from or written to a `device` buffer would not
compile. Erasing them runs every kernel that is correct on the GPU; it does not reject what
Metal rejects (a `device` pointer passed where a `thread` one is expected compiles here).

The passes here run on the preprocessed tokens before the rest of the translation:

* member-function qualifiers (`void f() const thread`, `T get() constant`, `MD() threadgroup =
  default`): `constant` becomes `const` (such a member is callable on a constant, i.e. const,
  object), except on constructors; the others go;
* declarations that become the same once the address spaces are gone (overloads, constructors,
  partial and explicit specialisations written once per address space, as Metal code must) are
  kept once: the first, which for code written for several address spaces is as good as any
  (their bodies are the same code).

Standard library only (imported by translate.py, which also runs as a script).
"""

from __future__ import annotations

from typing import Protocol

# The address spaces of compute kernels that mean nothing on the host (the prelude defines them
# as empty macros; `constant` as `const`).
ERASED = {"device", "thread", "threadgroup"}
SPACES = ERASED | {"constant"}
# What may stand between a member function's `)` and its body, `= default`, `;` or initialisers.
QUALIFIERS = {"const", "volatile", "&", "&&", "noexcept", "override", "final"} | SPACES
HEAD_ENDS = {"{", ";", "=", ":", "->", "[["}
CLASS_KEYS = {"struct", "class", "union"}


class Tokens(Protocol):
    """The translator's view of the significant tokens (translate.Translator)."""

    sig: list[int]

    def text(self, k: int) -> str: ...

    def set(self, k: int, text: str) -> None: ...

    def match(self, k: int, open_: str, close: str) -> int: ...

    def match_angle(self, k: int) -> int: ...


def run(tr: Tokens, checked: bool = False) -> None:
    """Both passes (the second compares what the first left, and removes only declarations
    that named an address space). `checked`: for the checked translation (checks.py), where a
    device, constant or threadgroup pointer is a checked_ptr, so it still differs from a
    thread pointer (MLX's pointer_element<device T*> must stay beside <thread T*>)."""
    original = [tr.text(k) for k in range(len(tr.sig))]
    member_qualifiers(tr)
    Deduplicator(tr, original, checked).scope(0, len(tr.sig), in_class=False)


def member_qualifiers(tr: Tokens) -> None:
    """Address-space qualifiers of member functions: `constant` -> `const` (not on
    constructors, whose name is the class's), the others erased."""
    classes = {
        tr.text(k + 1)
        for k in range(len(tr.sig) - 1)
        if tr.text(k) in CLASS_KEYS and tr.text(k - 1) != "enum"
    }
    for k in range(1, len(tr.sig)):
        if tr.text(k) != ")":
            continue
        j = k + 1
        spaces = []
        while tr.text(j) in QUALIFIERS:
            if tr.text(j) in SPACES:
                spaces.append(j)
            j += 1
        if not spaces or tr.text(j) not in HEAD_ENDS:
            continue
        has_const = any(tr.text(q) == "const" for q in range(k + 1, j))
        constructor = _declarator_name(tr, _open_paren(tr, k)) in classes
        for q in spaces:
            keep = tr.text(q) == "constant" and not has_const and not constructor
            tr.set(q, "const" if keep else "")
            has_const = has_const or keep


def _open_paren(tr: Tokens, close: int) -> int:
    depth = 0
    for j in range(close, -1, -1):
        depth += {")": 1, "(": -1}.get(tr.text(j), 0)
        if depth == 0:
            return j
    return 0


def _declarator_name(tr: Tokens, open_paren: int) -> str:
    """The name declared before a parameter list: `f(`, `MD<T>(`, `~S(`."""
    k = open_paren - 1
    if tr.text(k) in (">", ">>"):
        depth = 0
        while k > 0:
            t = tr.text(k)
            depth += {">": 1, ">>": 2, "<": -1}.get(t, 0)
            if depth <= 0 and t == "<":
                break
            k -= 1
        k -= 1
    return tr.text(k)


class Deduplicator:
    """Keeps one of each function or class declaration whose head (all before its body,
    initialisers or `;`), compared without address spaces, is the same as an earlier one in
    the same scope."""

    def __init__(self, tr: Tokens, original: list[str], checked: bool) -> None:
        self.tr = tr
        self.original = original  # the token texts before member_qualifiers
        self.checked = checked

    def scope(self, lo: int, hi: int, in_class: bool) -> None:
        tr = self.tr
        seen: set[tuple[str, ...]] = set()
        k = start = lo
        while k < hi:
            t = tr.text(k)
            if t == "{":
                head = [tr.text(q) for q in range(start, k)]
                close = tr.match(k, "{", "}")
                if "namespace" in head[:3] or head[:1] == ["extern"]:
                    self.scope(k + 1, close, in_class=False)
                    k = start = close + 1
                    continue
                is_function = self.is_function(start, k)
                is_class = any(w in CLASS_KEYS for w in head) and not is_function
                if is_class:
                    self.scope(k + 1, close, in_class=True)
                end = close
                while tr.text(end + 1) == ";" or (is_class and tr.text(end) != ";"):
                    end += 1
                    if end >= hi:
                        break
                if (is_class or is_function) and self.duplicate(seen, start, k):
                    self.erase(start, end)
                k = start = end + 1
                continue
            if t == ";":
                # Member declarations without a body (`MD() threadgroup = default;`); at
                # namespace scope a repeated declaration is valid C++.
                if in_class and self.is_function(start, k) and self.duplicate(seen, start, k):
                    self.erase(start, k)
                start = k + 1
            elif t in ("public", "private", "protected") and tr.text(k + 1) == ":":
                start = k + 2
                k += 1
            elif t == ":" and self.is_function(start, k):
                # A constructor's initialisers: skip them to the body.
                k = self.initialisers_end(k)
                continue
            elif t == "(":
                k = tr.match(k, "(", ")")
            elif t == "[[":
                k = tr.match(k, "[", "]")
            k += 1

    def is_function(self, start: int, stop: int) -> bool:
        """True if tokens [start, stop) end with a parameter list and its qualifiers."""
        tr = self.tr
        j = stop - 1
        while j > start and tr.text(j) in QUALIFIERS | {""}:
            j -= 1
        if tr.text(j) == "default" or tr.text(j) == "delete":
            j -= 1
            if tr.text(j) == "=":
                j -= 1
            while j > start and tr.text(j) in QUALIFIERS | {""}:
                j -= 1
        return j > start and tr.text(j) == ")"

    def initialisers_end(self, colon: int) -> int:
        """The index of the body's `{` after a constructor's `: a(x), b{y}`."""
        tr = self.tr
        k = colon + 1
        while k < len(tr.sig):
            t = tr.text(k)
            if t == "(":
                k = tr.match(k, "(", ")") + 1
            elif t == "{":
                # `b{y}` (an initialiser) follows a name; the body follows `)`, `}` or `:`.
                if tr.text(k - 1) in (")", "}", ":"):
                    return k
                k = tr.match(k, "{", "}") + 1
            elif t == "<":
                k = tr.match_angle(k) + 1
            else:
                k += 1
        return k

    def duplicate(self, seen: set[tuple[str, ...]], start: int, stop: int) -> bool:
        """True if the declaration [start, stop) names an address space and is, without them,
        one seen before (anything else that is the same is the user's redefinition, for the
        compiler to report)."""
        key = self.key(start, stop)
        if key in seen:
            return any(self.original[q] in SPACES for q in range(start, stop))
        seen.add(key)
        return False

    def key(self, start: int, stop: int) -> tuple[str, ...]:
        """The head without attributes and address spaces, `const` once per type."""
        tr = self.tr
        words: list[str] = []
        depth = 0  # of (), <> (template parameters and their defaults)
        k = start
        while k < stop:
            t = tr.text(k)
            if t == "[[":
                k = tr.match(k, "[", "]") + 1
                continue
            if tr.text(k - 1) != "operator":
                depth += {"(": 1, "<": 1, ")": -1, ">": -1, ">>": -2}.get(t, 0)
            if depth <= 0 and (t == "=" or (t == ":" and tr.text(k - 1) == ")")):
                break
            if self.checked and t in ("device", "constant", "threadgroup") and self.pointer(k):
                words.append("__checked__")
            if t == "constant":
                t = "const"
            if t and t not in ERASED:
                words.append(t)
            k += 1
        return tuple(_canonical_qualifiers(words))

    def pointer(self, k: int) -> bool:
        """True if the address space at k qualifies a pointer (`device const T<...>* p`)."""
        tr = self.tr
        j = k + 1
        while (
            tr.text(j) in ("const", "volatile", "::")
            or tr.text(j)[:1].isalpha()
            or tr.text(j)[:1] == "_"
        ):
            j += 1
            if tr.text(j) == "<":
                j = tr.match_angle(j) + 1
        return tr.text(j) == "*"

    def erase(self, start: int, end: int) -> None:
        for q in range(start, end + 1):
            self.tr.set(q, "")


def _canonical_qualifiers(words: list[str]) -> list[str]:
    """`const const int` and `int const` -> `const int`: in each run of words between
    punctuation, cv-qualifiers once and first."""
    out: list[str] = []
    run: list[str] = []

    def flush() -> None:
        quals = [q for q in ("const", "volatile") if q in run]
        out.extend(quals + [w for w in run if w not in ("const", "volatile")])
        run.clear()

    for w in words:
        if w[:1].isalpha() or w[:1] == "_":
            run.append(w)
        else:
            flush()
            out.append(w)
    flush()
    return out
