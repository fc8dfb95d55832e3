"""tunedepth/study/shared_prepared.py: a prepared study written once and mapped by workers comes back equal, its
large arrays memory-mapped (one file per array, however often it is referenced), its small ones in the pickle."""

from __future__ import annotations

import numpy as np
import torch

from tunedepth.config import parse_study
from tunedepth.study.prepare import prepare_study
from tunedepth.study.shared_prepared import MIN_SHARED_BYTES, load_prepared, save_prepared


def test_a_prepared_study_round_trips_with_its_large_arrays_mapped(study_raw, tmp_path):
    prepared = prepare_study(parse_study(study_raw, base_dir=tmp_path), tmp_path / "out")
    big = torch.arange(MIN_SHARED_BYTES // 4 + 1, dtype=torch.float32)  # just over the threshold
    extra = {"big": big, "again": big, "small": np.arange(10), "array": np.ones(MIN_SHARED_BYTES, dtype=np.uint8)}
    folder = save_prepared((prepared, extra), tmp_path / "shared")  # type: ignore[arg-type]
    assert sorted(p.name for p in folder.iterdir()) == ["0.npy", "1.npy", "prepared.pkl"]  # big once, array once
    loaded, got = load_prepared(folder)  # type: ignore[misc]
    assert loaded.run_ids == prepared.run_ids and loaded.config == prepared.config
    for split in ("train", "val", "test"):
        assert torch.equal(getattr(loaded.data, split).images, getattr(prepared.data, split).images)
    assert torch.equal(got["big"], big) and got["again"].data_ptr() == got["big"].data_ptr()
    assert isinstance(got["array"], np.memmap) and not isinstance(got["small"], np.memmap)
    got["big"][0] = 7.0  # copy-on-write: the worker's write stays its own
    assert float(load_prepared(folder)[1]["big"][0]) == 0.0  # type: ignore[index]
