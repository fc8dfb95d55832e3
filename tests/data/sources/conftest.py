"""Fixtures for the data-source tests: a loopback HTTP server and a synthetic MedMNIST flag."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pytest

from tunedepth.data.sources._medmnist_info import MEDMNIST_INFO, MedmnistInfo

from ._fakes import TEST_FLAG, LoopbackServer, synthetic_arrays, write_npz


@pytest.fixture
def http_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[LoopbackServer]:
    """Serve ``<tmp>/served`` over HTTP on loopback, in a thread; stopped after the test."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    served = tmp_path / "served"
    served.mkdir()
    requests: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(served), **kwargs)

        def do_GET(self) -> None:
            requests.append(self.path)
            super().do_GET()

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
    )
    thread.start()
    try:
        yield LoopbackServer(f"http://127.0.0.1:{server.server_address[1]}", served, requests)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


MakeFlag = Callable[..., Path]


@pytest.fixture
def make_test_flag(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> MakeFlag:
    """Write a synthetic npz and register flag 'testmnist' whose table MD5 is that file's.

    Call ``make_test_flag(folder, size=28, arrays=None, md5=None)``: the file is written
    in ``folder`` under its official name; ``md5`` overrides the table entry (to simulate
    a corrupt file). Returns the file path.
    """

    def make(
        folder: Path,
        *,
        size: int = 28,
        arrays: dict[str, np.ndarray] | None = None,
        md5: str | None = None,
    ) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        name = f"{TEST_FLAG}.npz" if size == 28 else f"{TEST_FLAG}_{size}.npz"
        digest = write_npz(folder / name, synthetic_arrays() if arrays is None else arrays)
        info = MedmnistInfo(
            flag=TEST_FLAG,
            task="binary-class",
            class_names=("negative", "positive"),
            n_channels=1,
            n_samples=(12, 4, 6),
            md5={s: (md5 or digest) if s == size else "0" * 32 for s in (28, 64, 128, 224)},
            license="test only",
        )
        monkeypatch.setitem(MEDMNIST_INFO, TEST_FLAG, info)
        return folder / name

    return make
