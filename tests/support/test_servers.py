"""Tests of the test fixtures themselves: each server starts, answers, stops.

Why: every network test of getscu/movescu relies on these servers; a broken
fixture must show up here with a clear failure instead of as dozens of
confusing tool failures.  DCMTK's own SCUs (by absolute path) are the
clients, so these tests do not depend on the code under test.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from pydicom import dcmread

from support import sampledata
from support.servers import HOST, DcmQRSCP, StoreSCP, free_port, port_is_open

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


def test_free_port_never_hands_out_a_port_twice() -> None:
    """A test that picks a listening port and then starts a server that picks
    its own must get two numbers (the kernel gave one twice in a CI run)."""
    ports = [free_port() for _ in range(300)]
    assert len(set(ports)) == len(ports)


@pytest.mark.dcmtk("dump2dcm")
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


@pytest.mark.network
@pytest.mark.dcmtk("echoscu", "getscu")
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


@pytest.mark.network
@pytest.mark.dcmtk("movescu")
def test_qrscp_move_to_listening_port(qrscp: DcmQRSCP, query_files: dict[str, Path],
                                      tmp_path: Path) -> None:
    """C-MOVE to MOVESCU reaches whoever listens on host_table["MOVESCU"]."""
    port = qrscp.host_table["MOVESCU"]
    result = run([MOVESCU, "-aec", qrscp.aetitle, "--port", str(port), "-od", str(tmp_path),
                  HOST, str(qrscp.port), str(query_files["pat_ct"])])
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [sampledata.CT.dcmtk_filename]


@pytest.mark.network
@pytest.mark.dcmtk("movescu")
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


@pytest.mark.network
@pytest.mark.dcmtk("dcmqrscp", "storescu", "storescp")
def test_servers_stop_by_pid(tmp_path: Path) -> None:
    """stop() ends the process group: the port closes and the PID is gone."""
    server = DcmQRSCP(tmp_path / "q").start()
    pid = server.pid
    assert port_is_open(server.port)
    server.stop()
    assert not port_is_open(server.port)
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    store = StoreSCP(tmp_path / "s").start()
    store.stop()
    assert not port_is_open(store.port)


def _get(port: int, patient_id: str, out: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    out.mkdir(parents=True, exist_ok=True)
    return run([GETSCU, "-v", *extra, "-od", str(out), HOST, str(port),
                "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={patient_id}"])


@pytest.mark.network
@pytest.mark.dcmtk("echoscu", "findscu", "getscu")
def test_fakeqr_echo_find_get(fakeqr, tmp_path: Path) -> None:
    """fakeqr answers C-ECHO, C-FIND (real matches) and a plain C-GET."""
    assert run([ECHOSCU, "-aec", fakeqr.aetitle, HOST, str(fakeqr.port)]).returncode == 0
    find = run([FINDSCU, "-v", "-P", HOST, str(fakeqr.port), "-k", "QueryRetrieveLevel=PATIENT",
                "-k", "PatientID=4MR*"])
    assert find.returncode == 0, find.stderr
    assert "[4MR1]" in find.stderr and "[1CT1]" not in find.stderr
    result = _get(fakeqr.port, "1CT1", tmp_path)
    assert result.returncode == 0, result.stderr
    assert [p.name for p in tmp_path.iterdir()] == [sampledata.CT.dcmtk_filename]
    assert "C-GET-RQ MsgID 1" in fakeqr.log_text()


@pytest.mark.network
@pytest.mark.dcmtk("getscu")
def test_fakeqr_warn_and_status_faults(fakeqr, tmp_path: Path) -> None:
    """WARN sends MR then 0xB000; A701 answers at once (as in the spec rig)."""
    warn = _get(fakeqr.port, "WARN", tmp_path / "w")
    assert "Received C-STORE Request (MsgID 2)" in warn.stderr
    assert "W: DIMSE status is: Warning: SubOperationsCompleteOneOrMoreFailures" in warn.stderr
    assert "Number of Failed Suboperations    : 1" in warn.stderr
    a701 = _get(fakeqr.port, "A701", tmp_path / "a")
    assert "E: DIMSE status is: Refused: OutOfResourcesNumberOfMatches" in a701.stderr
    abort = _get(fakeqr.port, "ABORT", tmp_path / "b")
    assert abort.returncode == 1
    assert "Peer aborted Association" in abort.stderr


@pytest.mark.network
@pytest.mark.dcmtk("movescu")
def test_fakeqr_move_mismatch_to_destination(make_fakeqr, tmp_path: Path) -> None:
    """C-MOVE opens a sub-association to --dest; MISMATCH lies about the UID."""
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port})
    out = tmp_path / "mm"
    out.mkdir()
    result = run([MOVESCU, "--port", str(port), "-od", str(out), HOST, str(server.port),
                  "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=MISMATCH"])
    assert result.returncode == 69, result.stderr
    assert [p.name for p in out.iterdir()] == ["MR.1.2.3.4.5.6.7"]
    unknown = run([MOVESCU, "-aem", "NOSUCHAE", HOST, str(server.port),
                   "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1"])
    assert "Refused: MoveDestinationUnknown" in unknown.stderr


@pytest.mark.network
@pytest.mark.dcmtk("getscu", "movescu")
def test_fakeqr_fork_serves_each_association_in_a_child(fakeqr, make_fakeqr, tmp_path: Path) -> None:
    """--fork: concurrent associations are served by distinct child processes
    (C-GET and C-MOVE with --store-delay); stop() leaves no child behind.
    --pre-encode: the object streamed from its pre-encoded copy arrives
    byte for byte as the default fakeqr's per-C-STORE encoding of it."""
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port},
                         extra_args=["--fork", "--pre-encode", "--store-delay", "0.3"])
    assert sorted(p.name for p in (server.workdir / "pre-encoded").iterdir())[:2] == ["0-im.dcm", "1-im.dcm"]
    outs = [tmp_path / name for name in ("g1", "g2", "m")]
    for out in outs:
        out.mkdir()
    key = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1"]
    procs = [subprocess.Popen([GETSCU, "-od", str(out), HOST, str(server.port), *key],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
             for out in outs[:2]]
    procs.append(subprocess.Popen([MOVESCU, "--port", str(port), "-od", str(outs[2]), HOST,
                                   str(server.port), *key],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True))
    for proc in procs:
        _out, err = proc.communicate(timeout=30)
        assert proc.returncode == 0, err
    for out in outs:
        assert [p.name for p in out.iterdir()] == [sampledata.CT.dcmtk_filename]
    default = tmp_path / "default"
    assert _get(fakeqr.port, "1CT1", default).returncode == 0
    name = sampledata.CT.dcmtk_filename
    assert (outs[0] / name).read_bytes() == (default / name).read_bytes()
    log = server.log_text()
    children = {int(m) for m in re.findall(r"\[(\d+)\] INFO: C-(?:GET|MOVE)-RQ MsgID", log)}
    assert "(Implicit VR Little Endian)" in log  # getscu's contexts: the pre-encoded copy was sent
    assert len(children) == 3 and int(server.ready_file.read_text()) not in children, log
    # a child still serving (DELAY stalls 5 s) ends with the server
    stalled = subprocess.Popen([GETSCU, "-od", str(tmp_path), HOST, str(server.port),
                                "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=DELAY"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        busy: list[str] = []
        while not busy and time.monotonic() < deadline:
            time.sleep(0.05)
            busy = re.findall(r"\[(\d+)\] INFO: C-GET-RQ MsgID 1 from GETSCU, PatientID='DELAY'",
                              server.log_text())
        assert busy, server.log_text()
        server.stop()
        deadline = time.monotonic() + 3  # well inside the 5 s stall
        while _running(int(busy[0])) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(int(busy[0]))
        assert stalled.wait(timeout=30) != 0
    finally:
        if stalled.poll() is None:
            stalled.kill()
            stalled.wait()


def _running(pid: int) -> bool:
    """The process exists and is not a zombie (an orphan awaiting its reaper)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


@pytest.mark.network
@pytest.mark.dcmtk("getscu", "storescu")
def test_fakeqr_modes(make_fakeqr, tmp_path: Path, sample_files: list[Path]) -> None:
    """nofind: no C-GET context; stalltcp: association times out; storeonly keeps files."""
    nofind = make_fakeqr(mode="nofind")
    result = _get(nofind.port, "1CT1", tmp_path)
    assert result.returncode == 1
    assert "No adequate Presentation Contexts for sending C-GET" in result.stderr
    stall = make_fakeqr(mode="stalltcp")
    result = _get(stall.port, "1CT1", tmp_path, "-ta", "1")
    assert result.returncode == 1
    assert "DUL network read timeout" in result.stderr
    store = make_fakeqr(mode="storeonly")
    sent = run(["/usr/bin/storescu", HOST, str(store.port), *map(str, sample_files)])
    assert sent.returncode == 0, sent.stderr
    assert sorted(p.name for p in store.store_dir.iterdir()) == \
        sorted(f"{s.sop_instance_uid}.dcm" for s in sampledata.SAMPLES)


@pytest.mark.network
@pytest.mark.dcmtk("getscu", "movescu")
def test_orthanc_get_and_move(make_orthanc, tmp_path: Path) -> None:
    """Orthanc (run by hand) serves C-GET and C-MOVE to a registered modality."""
    port = free_port()
    orthanc = make_orthanc(modalities={"movescu": ["MOVESCU", HOST, port]})
    assert len(orthanc.get_json("/instances")) == 3
    got = tmp_path / "get"
    got.mkdir()
    result = run([GETSCU, "-aec", orthanc.aetitle, "-od", str(got), HOST, str(orthanc.port),
                  "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1"])
    assert result.returncode == 0, result.stderr
    assert [p.name for p in got.iterdir()] == [sampledata.CT.dcmtk_filename]
    moved = tmp_path / "move"
    moved.mkdir()
    result = run([MOVESCU, "-aet", "MOVESCU", "-aec", orthanc.aetitle, "--port", str(port),
                  "-od", str(moved), HOST, str(orthanc.port),
                  "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=4MR1"])
    assert result.returncode == 0, result.stderr
    assert [p.name for p in moved.iterdir()] == [sampledata.MR.dcmtk_filename]


def test_generated_benchmark_data(tmp_path: Path) -> None:
    """Generated CT/tiny objects: one study each, unique UIDs, requested sizes."""
    study, cts = sampledata.make_ct_study(tmp_path / "ct", 3, pixels_bytes=64 * 1024)
    datasets = [dcmread(p) for p in cts]
    assert {d.StudyInstanceUID for d in datasets} == {study}
    assert len({d.SOPInstanceUID for d in datasets}) == 3
    assert all(d.file_meta.MediaStorageSOPInstanceUID == d.SOPInstanceUID for d in datasets)
    assert all(60 * 1024 <= len(d.PixelData) <= 64 * 1024 for d in datasets)
    assert all(d.Rows * d.Columns * 2 == len(d.PixelData) for d in datasets)
    tiny_study, tiny = sampledata.make_tiny_objects(tmp_path / "tiny", 5)
    assert len({dcmread(p).SOPInstanceUID for p in tiny}) == 5
    assert all(p.stat().st_size < 1024 for p in tiny)
    assert tiny_study != study


def _demo(workdir: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    demo = Path(__file__).resolve().parents[2] / "examples" / "demo.py"
    return subprocess.run([sys.executable, str(demo), *extra, "--workdir", str(workdir)],
                          capture_output=True, text=True, timeout=90)


@pytest.mark.network
@pytest.mark.slow
@pytest.mark.dcmtk("movescu", "getscu", "dcmqrscp", "storescu")
@pytest.mark.parametrize("archive", [(), ("--dcmtk",)], ids=["qrscp", "dcmqrscp"])
def test_demo_ours_matches_dcmtk(tmp_path: Path, archive: tuple[str, ...]) -> None:
    """examples/demo.py (the README demo) works with DCMTK's tools
    (--dcmtk-tools) and with ours, against our examples/qrscp.py and against
    DCMTK's dcmqrscp (--dcmtk), and both tools write byte-identical files.

    Why both: the DCMTK run proves the demo's archive, query files and
    command files are right; ours must then give the very same result.
    """
    theirs, ours = tmp_path / "dcmtk", tmp_path / "ours"
    result = _demo(theirs, *archive, "--dcmtk-tools")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "demo: OK" in result.stdout
    assert sorted(p.name for p in (theirs / "received" / "move").iterdir()) == \
        sorted([sampledata.CT.dcmtk_filename, sampledata.MR.dcmtk_filename])
    assert [p.name for p in (theirs / "received" / "get").iterdir()] == \
        [sampledata.CT.dcmtk_filename]
    result = _demo(ours, *archive)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert "demo: OK" in result.stdout
    expected = sorted(p.relative_to(theirs) for p in (theirs / "received").rglob("*")
                      if p.is_file())
    got = sorted(p.relative_to(ours) for p in (ours / "received").rglob("*") if p.is_file())
    assert got == expected
    for rel in expected:
        assert (ours / rel).read_bytes() == (theirs / rel).read_bytes(), rel


@pytest.mark.network
@pytest.mark.dcmtk("storescp")
def test_lost_port_race_is_retried(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """If another process takes our free port first, the server moves to a new one."""
    import socket

    from support import servers

    with socket.socket() as squatter:
        squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        squatter.bind((HOST, 0))
        squatter.listen(1)
        taken = squatter.getsockname()[1]
        real = servers.free_port
        calls = iter([taken])
        monkeypatch.setattr(servers, "free_port", lambda: next(calls, None) or real())
        server = servers.StoreSCP(tmp_path).start()
        try:
            assert server.port != taken
            assert servers.owns_listen_port(server._proc.pid, server.port)
            assert not servers.owns_listen_port(server._proc.pid, taken)
        finally:
            server.stop()
