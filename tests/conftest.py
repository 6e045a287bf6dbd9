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


@pytest.fixture
def ctx(device: str) -> mt.Context:
    return mt.Context(device=device)
