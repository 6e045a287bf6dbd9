"""Regenerates python/metallic/ops.pyi in this source tree from the installed build's op registry.

Run after `pip install .` whenever an op's declaration changes: `python tools/gen_stubs.py`.
"""

from __future__ import annotations

from pathlib import Path

from metallic import stubs

TARGET = Path(__file__).resolve().parents[1] / "python" / "metallic" / "ops.pyi"

if __name__ == "__main__":
    TARGET.write_text(stubs.render())
    print(f"wrote {TARGET}")
