"""Shared pytest fixtures: real SCPs on 127.0.0.1, sample data, query files.

See docs/testing.md for the fixture catalogue.  Why session scope for the
preloaded servers: starting dcmqrscp and loading three objects takes about a
second, and the archive is read-only for retrieval tests, so one instance
serves the whole run.  Tests that need a different HostTable or data set use
the ``make_qrscp`` factory (function scope, stopped at test teardown).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import sampledata  # noqa: E402
from servers import (  # noqa: E402
    DcmQRSCP,
    FakeQR,
    OrthancServer,
    StoreSCP,
    free_port,
)

__all__ = ["free_port"]


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
    unused ports).  Further keywords go to :class:`servers.DcmQRSCP`.
    Every server made is stopped at test teardown.
    """
    made: list[DcmQRSCP] = []

    def factory(files: Sequence[Path] | None = None,
                host_table: Mapping[str, int] | None = None, **kwargs: Any) -> DcmQRSCP:
        server = DcmQRSCP(tmp_path_factory.mktemp("qrscp"), host_table=host_table, **kwargs)
        made.append(server)
        server.start()
        server.load(sampledata.sample_paths() if files is None else files)
        return server

    try:
        yield factory
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def storescp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StoreSCP]:
    """``storescp -aet STORESCP <port> -od <dir>``; files land in ``.output_dir``."""
    server = StoreSCP(tmp_path_factory.mktemp("storescp"))
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def make_storescp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., StoreSCP]]:
    """Factory: ``make_storescp(aetitle="STORESCP", port=None, extra_args=())``."""
    made: list[StoreSCP] = []

    def factory(**kwargs: Any) -> StoreSCP:
        server = StoreSCP(tmp_path_factory.mktemp("storescp"), **kwargs)
        made.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def fakeqr(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FakeQR]:
    """tests/fakeqr.py in ``qr`` mode, AE ``ANY-SCP``; faults by PatientID.
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
    made: list[FakeQR] = []

    def factory(**kwargs: Any) -> FakeQR:
        server = FakeQR(tmp_path_factory.mktemp("fakeqr"), **kwargs)
        made.append(server)
        return server.start()

    try:
        yield factory
    finally:
        for server in made:
            server.stop()


@pytest.fixture
def make_orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Callable[..., OrthancServer]]:
    """Factory: ``make_orthanc(files=None, modalities={"name": [AET, host, port]})``.

    ``files`` defaults to the three samples (uploaded over REST).  Orthanc
    starts in about 1-2 s, so it is function scoped only through this factory.
    """
    made: list[OrthancServer] = []

    def factory(files: Sequence[Path] | None = None, **kwargs: Any) -> OrthancServer:
        server = OrthancServer(tmp_path_factory.mktemp("orthanc"), **kwargs)
        made.append(server)
        server.start()
        server.upload(sampledata.sample_paths() if files is None else files)
        return server

    try:
        yield factory
    finally:
        for server in made:
            server.stop()
