"""Shared fixtures: every op and runtime test runs on each device present (host always; metal
on a Mac), so on a Mac the whole suite checks the Metal path against the same references."""

from __future__ import annotations

import os

import metallic as mt
import pytest
from metallic import _core


def _devices() -> list[str]:
    forced = os.environ.get("METALLIC_DEVICE")
    return [forced] if forced else list(_core.available_devices())


@pytest.fixture(params=_devices())
def device(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "mps: needs Metal Performance Shaders; skipped on a Metal device without them "
        "(MPSSupportsMTLDevice is NO: the paravirtualized GPU of a virtual machine, such as "
        "GitHub's macOS runners)",
    )


@pytest.fixture
def ctx(device: str, request: pytest.FixtureRequest) -> mt.Context:
    context = mt.Context(device=device)
    if request.node.get_closest_marker("mps") is not None:
        info = context.device_info()
        if info.get("mps") == "no":
            pytest.skip(f"the Metal device {info.get('name')!r} does not support MPS")
    return context
