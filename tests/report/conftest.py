from __future__ import annotations

from pathlib import Path

import pytest

from tunedepth.config import parse_study
from tunedepth.study import run_study


@pytest.fixture
def toy_study(study_raw, tmp_path) -> Path:
    """A finished toy study (toy4 model, 16-px synthetic images; scratch, depths 1 and 4, fractions 1 and 0.5)."""
    out = tmp_path / "study"
    run_study(parse_study(study_raw, base_dir=Path(".")), out)
    return out
