"""Shared pytest fixtures: real SCPs on 127.0.0.1, sample data, query files.

See docs/testing.md for the fixture catalogue.  The helpers live in the
``support`` package (``tests/`` is on ``sys.path`` through ``pythonpath`` in
pyproject.toml).  Why session scope for the
preloaded servers: starting dcmqrscp and loading three objects takes about a
second, and the archive is read-only for retrieval tests, so one instance
serves the whole run.  Tests that need a different HostTable or data set use
the ``make_qrscp`` factory (function scope, stopped at test teardown).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

# plain asserts in the helpers (harness.assert_same) get pytest's diffs too
pytest.register_assert_rewrite("support")

from support import harness, sampledata  # noqa: E402
from support.servers import (  # noqa: E402
    DCMQRSCP,
    ORTHANC,
    STORESCP,
    STORESCU,
    DcmQRSCP,
    FakeQR,
    OrthancServer,
    StoreSCP,
)

#: what each server class needs installed (a skip with a reason otherwise)
_NEEDS: dict[type, tuple[str, ...]] = {
    DcmQRSCP: (DCMQRSCP, STORESCU),
    StoreSCP: (STORESCP,),
    OrthancServer: (ORTHANC,),
    FakeQR: (),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    """``@pytest.mark.dcmtk("getscu", ...)``: skip, naming what is missing,
    unless those DCMTK programs (default: movescu and getscu) are installed."""
    for marker in item.iter_markers("dcmtk"):
        harness.require(*(marker.args or harness.TOOLS))


@contextlib.contextmanager
def _server_factory(
    tmp_path_factory: pytest.TempPathFactory, cls: Callable[..., Any], prefix: str,
    fill: Callable[[Any, Sequence[Path]], object] | None = None,
) -> Iterator[Callable[..., Any]]:
    """The body of every ``make_*`` fixture: a factory that makes a server of
    ``cls`` in a fresh directory and starts it (and, with ``fill``, loads the
    ``files=`` it was given, by default the three samples); every server made
    is stopped when the fixture ends, whatever the test did."""
    made: list[Any] = []
    harness.require(*_NEEDS[cls])

    def factory(**kwargs: Any) -> Any:
        files = kwargs.pop("files", None) if fill is not None else None
        server = cls(tmp_path_factory.mktemp(prefix), **kwargs)
        made.append(server)
        server.start()
        if fill is not None:
            fill(server, sampledata.sample_paths() if files is None else files)
        return server

    try:
        yield factory
    finally:
        for server in made:
            server.stop()

@pytest.fixture(scope="session")
def sample_files() -> list[Path]:
    """Paths of CT_small.dcm, MR_small.dcm, rtplan.dcm (pydicom test files)."""
    return sampledata.sample_paths()


@pytest.fixture(scope="session")
def query_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Query files built from tests/data/query/*.dump: name -> path of .dcm
    (``pat_all``, ``pat_ct``, ``pat_none``, ``seq``, ``study_mr``)."""
    return sampledata.build_query_files(tmp_path_factory.mktemp("query"))


@pytest.fixture(scope="session")
def qrscp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DcmQRSCP]:
    """dcmqrscp (AE ``COMMON``) preloaded with CT_small, MR_small, rtplan.

    ``qrscp.host_table`` holds free ports for MOVESCU, OTHERAE, STORESCP,
    NOLISTEN and GETSCU; nothing listens there unless a test does (e.g.
    ``movescu --port qrscp.host_table["MOVESCU"]``).  Do not store into it.
    """
    harness.require(*_NEEDS[DcmQRSCP])
    server = DcmQRSCP(tmp_path_factory.mktemp("qrscp"))
    server.start()
    try:
        server.load(sampledata.sample_paths())
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_qrscp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., DcmQRSCP]]:
    """Factory: ``make_qrscp(files=None, host_table=None, **kwargs)``.

    ``files`` defaults to the three samples (pass ``[]`` for an empty
    archive); ``host_table`` maps AE title -> port (unmapped default AEs get
    unused ports).  Further keywords go to :class:`support.servers.DcmQRSCP`.
    Every server made is stopped at test teardown.
    """
    with _server_factory(tmp_path_factory, DcmQRSCP, "qrscp", DcmQRSCP.load) as factory:
        yield factory


@pytest.fixture
def storescp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreSCP]:
    """``storescp -aet STORESCP <port> -od <dir>``; files land in ``.output_dir``."""
    harness.require(*_NEEDS[StoreSCP])
    server = StoreSCP(tmp_path_factory.mktemp("storescp"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_storescp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., StoreSCP]]:
    """Factory: ``make_storescp(aetitle="STORESCP", port=None, extra_args=())``."""
    with _server_factory(tmp_path_factory, StoreSCP, "storescp") as factory:
        yield factory


@pytest.fixture
def fakeqr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeQR]:
    """tests/support/fakeqr.py in ``qr`` mode, AE ``ANY-SCP``; faults by PatientID.
    No C-MOVE destinations: use ``make_fakeqr(destinations={...})`` for moves."""
    server = FakeQR(tmp_path_factory.mktemp("fakeqr"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_fakeqr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., FakeQR]]:
    """Factory: ``make_fakeqr(mode="qr", destinations={"MOVESCU": port}, delay=5.0,
    big_size=None, aetitle="ANY-SCP")``; stopped at teardown."""
    with _server_factory(tmp_path_factory, FakeQR, "fakeqr") as factory:
        yield factory


@pytest.fixture
def make_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., OrthancServer]]:
    """Factory: ``make_orthanc(files=None, modalities={"name": [AET, host, port]})``.

    ``files`` defaults to the three samples (uploaded over REST).  Orthanc
    starts in about 1-2 s, so it is function scoped only through this factory.
    """
    with _server_factory(tmp_path_factory, OrthancServer, "orthanc", OrthancServer.upload) as factory:
        yield factory
