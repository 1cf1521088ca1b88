"""Tests of the test fixtures themselves: each server starts, answers, stops.

Why: every network test of getscu/movescu relies on these servers; a broken
fixture must show up here with a clear failure instead of as dozens of
confusing tool failures.  DCMTK's own SCUs (by absolute path) are the
clients, so these tests do not depend on the code under test.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from pydicom import dcmread

import sampledata
from servers import HOST, DcmQRSCP, StoreSCP, free_port, port_is_open

pytestmark = pytest.mark.network

ECHOSCU = "/usr/bin/echoscu"
GETSCU = "/usr/bin/getscu"
MOVESCU = "/usr/bin/movescu"
FINDSCU = "/usr/bin/findscu"


def run(argv: list[str], timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, capture_output=True, text=True, timeout=timeout)


def test_free_port_is_bindable() -> None:
    port = free_port()
    assert 1024 < port < 65536
    assert not port_is_open(port)


def test_query_files_match_dump2dcm(query_files: dict[str, Path], tmp_path: Path) -> None:
    """Our dump parser must build the same data sets as DCMTK's dump2dcm."""
    assert set(query_files) == {"pat_all", "pat_ct", "pat_none", "seq", "study_mr"}
    for name, ours in query_files.items():
        theirs = tmp_path / f"{name}.dcm"
        result = run(["/usr/bin/dump2dcm", str(sampledata.query_dump_path(name)), str(theirs)])
        assert result.returncode == 0, result.stderr
        a, b = dcmread(ours), dcmread(theirs)
        assert [(e.tag, e.VR, str(e.value)) for e in a.iterall()] == \
            [(e.tag, e.VR, str(e.value)) for e in b.iterall()], name
    seq = dcmread(query_files["seq"])
    assert seq.PatientID == "1CT1"
    assert seq.ReferencedStudySequence[0].ReferencedSOPInstanceUID == "4.5.6"


def test_sample_metadata_matches_files() -> None:
    for sample in sampledata.SAMPLES:
        ds = dcmread(sample.path)
        assert ds.PatientID == sample.patient_id
        assert ds.SOPInstanceUID == sample.sop_instance_uid
        assert ds.SOPClassUID == sample.sop_class_uid
        assert ds.StudyInstanceUID == sample.study_instance_uid
        assert ds.file_meta.TransferSyntaxUID == sample.transfer_syntax_uid


def test_qrscp_get_with_dcmtk(qrscp: DcmQRSCP, query_files: dict[str, Path],
                              tmp_path: Path) -> None:
    """The preloaded archive answers C-ECHO and serves all three objects by C-GET."""
    echo = run([ECHOSCU, "-aec", qrscp.aetitle, HOST, str(qrscp.port)])
    assert echo.returncode == 0, echo.stderr
    result = run([GETSCU, "-aec", qrscp.aetitle, "-od", str(tmp_path), HOST, str(qrscp.port),
                  str(query_files["pat_all"])])
    assert result.returncode == 0, result.stderr
    names = sorted(p.name for p in tmp_path.iterdir())
    assert names == sorted(s.dcmtk_filename for s in sampledata.SAMPLES)
    assert len(list(qrscp.storage_dir.glob("*"))) >= 3


def test_qrscp_move_to_listening_port(qrscp: DcmQRSCP, query_files: dict[str, Path],
                                      tmp_path: Path) -> None:
    """C-MOVE to MOVESCU reaches whoever listens on host_table["MOVESCU"]."""
    port = qrscp.host_table["MOVESCU"]
    result = run([MOVESCU, "-aec", qrscp.aetitle, "--port", str(port), "-od", str(tmp_path),
                  HOST, str(qrscp.port), str(query_files["pat_ct"])])
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [sampledata.CT.dcmtk_filename]


def test_qrscp_factory_host_table_and_custom_data(make_qrscp, make_storescp,
                                                  query_files: dict[str, Path]) -> None:
    """A custom archive moves to a third-party storescp mapped in its HostTable."""
    store = make_storescp(aetitle="STORESCP")
    server = make_qrscp(files=[sampledata.MR.path], host_table={"STORESCP": store.port})
    assert server.host_table["STORESCP"] == store.port
    assert f"(STORESCP, {HOST}, {store.port})" in server.config_path.read_text()
    # study_mr has no PatientID: it needs the Study Root model (-S)
    result = run([MOVESCU, "-S", "-aec", server.aetitle, "-aem", "STORESCP", HOST,
                  str(server.port), str(query_files["study_mr"])])
    assert result.returncode == 0, result.stderr
    received = store.received()
    assert len(received) == 1
    assert dcmread(received[0]).SOPInstanceUID == sampledata.MR.sop_instance_uid
    # CT is not in this archive: a move of pat_ct transfers nothing
    result = run([MOVESCU, "-aec", server.aetitle, "-aem", "STORESCP", HOST, str(server.port),
                  str(query_files["pat_ct"])])
    assert result.returncode == 0, result.stderr
    assert len(store.received()) == 1


def test_servers_stop_by_pid(tmp_path: Path) -> None:
    """stop() ends the process group: the port closes and the PID is gone."""
    server = DcmQRSCP(tmp_path / "q").start()
    pid = server.pid
    assert port_is_open(server.port)
    server.stop()
    assert not port_is_open(server.port)
    with pytest.raises(ProcessLookupError):
        import os
        os.kill(pid, 0)
    store = StoreSCP(tmp_path / "s").start()
    store.stop()
    assert not port_is_open(store.port)
