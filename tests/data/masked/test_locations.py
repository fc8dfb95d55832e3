
import pytest

from tunedepth.data.masked import MASK_DATA_FOLDERS, default_mask_data_folder, resolve_mask_data_root
from tunedepth.errors import ConfigError


def test_explicit_root_wins_over_the_data_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", str(tmp_path / "shared"))
    assert resolve_mask_data_root("kvasir_seg", tmp_path / "mine") == tmp_path / "mine"


@pytest.mark.parametrize("source", sorted(MASK_DATA_FOLDERS))
def test_default_folder_is_under_the_data_dir(monkeypatch, tmp_path, source):
    monkeypatch.setenv("TUNEDEPTH_DATA_DIR", str(tmp_path))
    assert resolve_mask_data_root(source, None) == tmp_path / MASK_DATA_FOLDERS[source]
    assert default_mask_data_folder(source) == tmp_path / MASK_DATA_FOLDERS[source]


def test_folder_names_match_the_shared_data_layout():
    assert MASK_DATA_FOLDERS == {"carotid": "carotid-cca-us-subset", "cvc_clinicdb": "cvc-clinicdb-pranet-train550",
                                 "kvasir_seg": "kvasir-seg"}


def test_unset_data_dir_names_the_parameter_and_both_fixes(monkeypatch):
    monkeypatch.delenv("TUNEDEPTH_DATA_DIR", raising=False)
    assert default_mask_data_folder("carotid") is None
    with pytest.raises(ConfigError) as info:
        resolve_mask_data_root("cvc_clinicdb", None, parameter="test_root")
    message = str(info.value)
    assert "\n" not in message
    assert "data.test_root is not set" in message
    assert "TUNEDEPTH_DATA_DIR" in message and "cvc-clinicdb-pranet-train550/" in message
