"""A run's weights file (tunedepth/models/checkpoints.py): written and read back whole; a bad file is one line."""

from __future__ import annotations

import pytest
import torch

from tunedepth.errors import WeightsError
from tunedepth.models.checkpoints import read_run_weights, run_weights_bytes


def test_weights_and_header_read_back_unchanged(tmp_path):
    state = {"a.weight": torch.randn(3, 2), "a.bias": torch.randn(3), "bn.num_batches_tracked": torch.tensor(7),
             "b.weight": torch.randn(4, 3).t()}  # a non-contiguous view is written contiguous
    path = tmp_path / "weights.safetensors"
    path.write_bytes(run_weights_bytes(state, {"run_id": "abc", "n_classes": "2"}))
    tensors, header = read_run_weights(path)
    assert header == {"run_id": "abc", "n_classes": "2"}
    assert tensors.keys() == state.keys() and all(torch.equal(tensors[k], state[k]) for k in state)


def test_a_missing_or_bad_weights_file_is_one_line(tmp_path):
    with pytest.raises(WeightsError, match=r"^The run weights .*w.safetensors do not exist; keep them with "
                                           r"execution.keep_checkpoints = 'all', or re-make them with tunedepth rerun"):
        read_run_weights(tmp_path / "w.safetensors")
    (tmp_path / "w.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(WeightsError, match=r"w.safetensors is not a readable safetensors weights file \(.*\); "
                                           r"re-make it with tunedepth rerun\.$"):
        read_run_weights(tmp_path / "w.safetensors")
