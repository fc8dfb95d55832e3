"""Tests of the public names of tunedepth.data."""

from __future__ import annotations

import tunedepth.data
import tunedepth.data.boundaries
import tunedepth.data.masked
import tunedepth.data.sources


def test_every_public_name_resolves_once() -> None:
    for module in (tunedepth.data, tunedepth.data.sources, tunedepth.data.masked, tunedepth.data.boundaries):
        names = module.__all__
        assert len(names) == len(set(names))
        assert all(getattr(module, name, None) is not None for name in names)
