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


# tools/sanitized preloads AddressSanitizer's runtime (docs/sanitizers.md).
UNDER_ASAN = "libasan" in os.environ.get("LD_PRELOAD", "")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "not_under_asan(reason): skipped under AddressSanitizer (tools/sanitized), which changes "
        "what the test measures (the reason says how)",
    )
    config.addinivalue_line(
        "markers",
        "mps: needs Metal Performance Shaders; skipped on a Metal device without them "
        "(MPSSupportsMTLDevice is NO: the paravirtualized GPU of a virtual machine, such as "
        "GitHub's macOS runners)",
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if not UNDER_ASAN:
        return
    for item in items:
        marker = item.get_closest_marker("not_under_asan")
        if marker is not None:
            item.add_marker(pytest.mark.skip(reason=f"under AddressSanitizer: {marker.args[0]}"))


@pytest.fixture
def ctx(device: str, request: pytest.FixtureRequest) -> mt.Context:
    context = mt.Context(device=device)
    if request.node.get_closest_marker("mps") is not None:
        info = context.device_info()
        if info.get("mps") == "no":
            pytest.skip(f"the Metal device {info.get('name')!r} does not support MPS")
    return context
