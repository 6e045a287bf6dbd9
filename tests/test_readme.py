"""The README's Python examples run as written (one namespace, in order)."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_python_examples_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks
    namespace: dict[str, object] = {}
    exec(compile("\n".join(blocks), str(README), "exec"), namespace)  # noqa: S102
    assert namespace["y3"].shape == (3, 4)  # type: ignore[attr-defined]
    # The custom-kernel example ends with y = 2 * x.
    assert namespace["y"].numpy().tolist() == [2.0 * i for i in range(8)]  # type: ignore[attr-defined]
    assert namespace["vectors"].shape == (2, 384)  # type: ignore[attr-defined]
