"""--strict-exit, --allow-empty and --summary-json against real peers.

Why against real peers: the exit status must follow what dcmqrscp, Orthanc
and our fault-injecting fakeqr really answer (warning, refused, failure,
cancel, abort, nothing found), and every summary a run writes is checked
against the published schema and against the files on disk
(``support.summarycheck``).  Where a case also runs DCMTK, the point is the
other half of the contract: without ``--strict-exit`` the exit status,
messages and files stay DCMTK's, even with ``--summary-json``.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import pytest

from support import harness
from support import sampledata
from support import summarycheck
from support.ports import free_port

pytestmark = pytest.mark.network

GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
MOVE = harness.Harness("movescu", ours="module", timeout=120.0, errors="replace")
PAT = ["-k", "QueryRetrieveLevel=PATIENT"]
STRICT = ["--strict-exit"]


def _peer(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [server.host, str(server.port)]


def _od(tool: harness.Harness, args: list[str]) -> list[str]:
    """``-od out``, except for movescu without --port (where DCMTK refuses -od)."""
    return ["-od", "out"] if tool.tool == "getscu" or "--port" in args else []


def ours(tool: harness.Harness, args: list[str], cwd: Path) -> tuple[harness.Result, dict]:
    """Run ours in ``cwd`` with ``-od out`` (created) and ``--summary-json
    summary.json``; returns the result and the checked summary."""
    (cwd / "out").mkdir(parents=True, exist_ok=True)
    result = tool.run("ours", [*_od(tool, args), "--summary-json", "summary.json", *args], cwd)
    assert "Traceback" not in result.stderr, result.stderr
    doc = summarycheck.check(cwd / "summary.json", cwd)
    assert doc["exit_status"] == result.rc
    return result, doc


def dcmtk_and_ours(tool: harness.Harness, args: list[str], root: Path,
                   stderr: bool = True) -> tuple[harness.Result, harness.Result, dict]:
    """DCMTK without extensions, ours with ``--summary-json`` only: same
    exit status, files (the summary aside) and, with ``stderr``, messages
    (in fakeqr's fault cases our A-RELEASE races the peer's last PDUs, so
    the transcript may differ from run to run; here the status and files
    matter, the transcripts are test_getscu_net.py's business)."""
    (root / "dcmtk" / "out").mkdir(parents=True, exist_ok=True)
    dcmtk = tool.run("dcmtk", [*_od(tool, args), *args], root / "dcmtk")
    mine, doc = ours(tool, args, root / "ours")
    assert (mine.rc, mine.stdout) == (dcmtk.rc, dcmtk.stdout)
    if stderr:
        assert mine.stderr == dcmtk.stderr
    assert mine.files("out") == dcmtk.files("out")
    assert doc["dcmtk_exit_status"] == dcmtk.rc and doc["strict_exit"] is False
    return dcmtk, mine, doc


# ---------------------------------------------------------------------------
# getscu: clean, empty, statuses


def test_getscu_clean_retrieve_dcmqrscp(qrscp, tmp_path: Path) -> None:
    args = ["-aec", "COMMON", *_peer(qrscp), *PAT, "-k", "PatientID=*"]
    dcmtk, _mine, _doc = dcmtk_and_ours(GET, args, tmp_path / "plain")
    assert dcmtk.rc == 0
    result, doc = ours(GET, [*STRICT, *args], tmp_path / "strict")
    assert result.rc == 0
    assert doc["outcome"] == "success" and doc["association"] == "accepted"
    (request,) = doc["requests"]
    assert request["status"] == {"code": 0, "hex": "0x0000", "text": "Success", "category": "success"}
    assert request["sub_operations"]["completed"] == 3 and request["round"] == 1
    assert request["identifier"] == {"00080052": {"vr": "CS", "Value": ["PATIENT"]},
                                     "00100020": {"vr": "LO", "Value": ["*"]}}
    assert sorted(o["sop_instance_uid"] for o in request["objects"]) == sorted(
        s.sop_instance_uid for s in (sampledata.CT, sampledata.MR, sampledata.RTPLAN))
    assert all(o["answered_status"]["code"] == 0 and o["outcome"] == "stored" for o in request["objects"])
    assert doc["totals"]["retrieved"] == 3 and doc["totals"]["retrieved_basis"] == "objects-received"
    assert doc["argv"][1:] == ["-od", "out", "--summary-json", "summary.json", *STRICT, *args]


@pytest.mark.parametrize("allow_empty", [False, True])
def test_getscu_nothing_retrieved(qrscp, tmp_path: Path, allow_empty: bool) -> None:
    args = ["-aec", "COMMON", *_peer(qrscp), *PAT, "-k", "PatientID=none"]
    extra = ["--allow-empty"] if allow_empty else []
    result, doc = ours(GET, [*STRICT, *extra, *args], tmp_path)
    assert result.rc == (0 if allow_empty else 69)
    assert doc["totals"]["retrieved"] == 0 and doc["requests"][0]["status"]["code"] == 0
    assert doc["outcome"] == ("success" if allow_empty else "failure")
    assert result.stderr == ""  # --strict-exit changes the status, not the messages


def test_getscu_nothing_retrieved_keeps_dcmtk_status_without_the_option(qrscp, tmp_path: Path) -> None:
    dcmtk, _mine, doc = dcmtk_and_ours(GET, ["-aec", "COMMON", *_peer(qrscp), *PAT, "-k", "PatientID=none"],
                                       tmp_path)
    assert dcmtk.rc == 0 and doc["outcome"] == "failure"


#: fakeqr fault (PatientID) -> (final status, its category, --strict-exit status)
FAKEQR_CASES = {
    "WARN": (0xB000, "warning", 68),
    "A702": (0xA702, "refused", 69),
    "A801": (0xA801, "refused", 69),
    "C000": (0xC000, "failure", 69),
    "C123": (0xC123, "failure", 69),
    "CANCEL": (0xFE00, "cancel", 69),
    "ABORT": (None, None, 69),
}


@pytest.mark.parametrize("fault", list(FAKEQR_CASES))
def test_getscu_fakeqr_statuses(fakeqr, tmp_path: Path, fault: str) -> None:
    code, category, strict = FAKEQR_CASES[fault]
    args = ["-v", *_peer(fakeqr), *PAT, "-k", f"PatientID={fault}"]
    dcmtk, _mine, _doc = dcmtk_and_ours(GET, args, tmp_path / "plain", stderr=False)
    result, doc = ours(GET, [*STRICT, *args], tmp_path / "strict")
    assert result.rc == strict, result.stderr
    assert doc["dcmtk_exit_status"] == dcmtk.rc
    (request,) = doc["requests"]
    if code is None:
        assert request["status"] is None and request["error"]
    else:
        assert (request["status"]["code"], request["status"]["category"]) == (code, category)
    assert doc["outcome"] == ("warning" if strict == 68 else "failure")


def test_getscu_object_not_stored(qrscp, tmp_path: Path) -> None:
    """A file that cannot be written (a directory has its name): 0xC000 is
    answered; DCMTK's status stays 0, --strict-exit says 69."""
    args = ["-aec", "COMMON", *_peer(qrscp), *PAT, "-k", "PatientID=4MR1"]
    for side in ("dcmtk", "ours"):
        (tmp_path / "plain" / side / "out" / sampledata.MR.dcmtk_filename).mkdir(parents=True)
    dcmtk, _mine, doc = dcmtk_and_ours(GET, args, tmp_path / "plain")
    assert dcmtk.rc == 0
    (obj,) = doc["requests"][0]["objects"]
    assert obj["outcome"] == "write-error" and obj["path"] is None
    assert obj["answered_status"] == {"code": 0xC000, "hex": "0xc000", "text": "Error: CannotUnderstand"}
    (tmp_path / "strict" / "out" / sampledata.MR.dcmtk_filename).mkdir(parents=True)
    result, doc = ours(GET, [*STRICT, *args], tmp_path / "strict")
    assert result.rc == 69 and doc["totals"]["objects_failed"] == 1


def test_getscu_ignore_counts_as_retrieved(qrscp, tmp_path: Path) -> None:
    """--ignore: objects received and deliberately not stored are retrieved,
    not failures (docs/ci.md)."""
    cwd = tmp_path
    (cwd / "out").mkdir()
    result = GET.run("ours", [*STRICT, "--ignore", "--summary-json", "s.json", "-aec", "COMMON", *_peer(qrscp),
                              *PAT, "-k", "PatientID=*"], cwd)
    doc = summarycheck.check(cwd / "s.json", cwd)
    assert result.rc == 0
    assert [o["outcome"] for o in doc["requests"][0]["objects"]] == ["ignored"] * 3
    assert all(o["path"] is None for o in doc["requests"][0]["objects"])
    assert doc["totals"]["retrieved"] == 3 and doc["totals"]["objects_stored"] == 0


def test_getscu_repeat_and_query_files(qrscp, tmp_path: Path, query_files) -> None:
    args = ["--repeat", "2", "-aec", "COMMON", *_peer(qrscp), str(query_files["pat_ct"])]
    result, doc = ours(GET, [*STRICT, *args], tmp_path)
    assert result.rc == 0
    assert [(r["query_file"], r["round"]) for r in doc["requests"]] == [(str(query_files["pat_ct"]), 1),
                                                                       (str(query_files["pat_ct"]), 2)]
    assert [len(r["objects"]) for r in doc["requests"]] == [1, 1]
    assert doc["requests"][1]["message_id"] == doc["requests"][0]["message_id"] + 1


# ---------------------------------------------------------------------------
# getscu: association and setup failures keep movescu's codes


def test_getscu_association_rejected(qrscp, tmp_path: Path) -> None:
    args = ["-aec", "NOSUCHAE", *_peer(qrscp), *PAT]
    dcmtk, _mine, doc = dcmtk_and_ours(GET, args, tmp_path / "plain")
    assert dcmtk.rc == 1 and doc["association"] == "failed" and doc["end_reason"] == "fatal"
    result, doc = ours(GET, [*STRICT, *args], tmp_path / "strict")
    assert result.rc == 61 and doc["requests"] == []


def test_getscu_connection_refused(tmp_path: Path) -> None:
    result, doc = ours(GET, [*STRICT, "127.0.0.1", str(free_port()), *PAT], tmp_path)
    assert result.rc == 61 and doc["association"] == "failed"
    assert doc["error"].startswith("Could not negotiate association")


def test_getscu_no_get_context(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(mode="nofind")
    args = [*_peer(server), *PAT]
    dcmtk, _mine, _doc = dcmtk_and_ours(GET, args, tmp_path / "plain")
    result, doc = ours(GET, [*STRICT, *args], tmp_path / "strict")
    assert (dcmtk.rc, result.rc) == (1, 66)
    assert doc["error"] == "No adequate Presentation Contexts for sending C-GET"


def test_getscu_missing_output_directory(tmp_path: Path) -> None:
    base = ["-od", "nodir", "--summary-json", "s.json", "127.0.0.1", str(free_port()), *PAT]
    plain = GET.run("ours", base, tmp_path / "plain")
    strict = GET.run("ours", [*STRICT, *base], tmp_path / "strict")
    assert (plain.rc, strict.rc) == (1, 45)
    assert plain.stderr == strict.stderr == "F: specified output directory does not exist\n"
    for cwd, rc in ((tmp_path / "plain", 1), (tmp_path / "strict", 45)):
        doc = summarycheck.check(cwd / "s.json", cwd)
        assert doc["exit_status"] == rc and doc["association"] == "not-requested"


# ---------------------------------------------------------------------------
# Orthanc


def test_getscu_orthanc(make_orthanc, tmp_path: Path) -> None:
    orthanc = make_orthanc()
    base = ["-aec", orthanc.aetitle, *_peer(orthanc), *PAT]
    result, doc = ours(GET, [*STRICT, *base, "-k", "PatientID=4MR1"], tmp_path / "found")
    assert result.rc == 0 and doc["totals"]["objects_stored"] == 1
    assert doc["requests"][0]["objects"][0]["path"] == sampledata.MR.dcmtk_filename
    result, doc = ours(GET, [*STRICT, *base, "-k", "PatientID=nobody"], tmp_path / "empty")
    assert result.rc == 69 and doc["totals"]["retrieved"] == 0


# ---------------------------------------------------------------------------
# movescu


def test_movescu_to_itself(qrscp, tmp_path: Path) -> None:
    port = qrscp.host_table["MOVESCU"]
    args = ["-aec", "COMMON", "--port", str(port), *_peer(qrscp), *PAT, "-k", "PatientID=*"]
    result, doc = ours(MOVE, [*STRICT, *args], tmp_path / "all")
    assert result.rc == 0
    assert doc["move_destination"] == "MOVESCU" and doc["listen_port"] == port
    assert doc["totals"]["retrieved_basis"] == "objects-received" and doc["totals"]["objects_stored"] == 3
    assert doc["requests"][0]["sub_operations"]["completed"] == 3
    result, doc = ours(MOVE, [*STRICT, *args[:-1], "PatientID=none"], tmp_path / "none")
    assert result.rc == 69 and doc["totals"]["retrieved"] == 0


def test_movescu_third_party_counts_completed_sub_operations(make_storescp, make_qrscp, tmp_path: Path) -> None:
    """We are not the destination: "retrieved" is the completed
    sub-operations of the final responses; no objects are listed."""
    store = make_storescp()
    server = make_qrscp(host_table={"STORESCP": store.port})
    base = ["-aec", "COMMON", "-aem", "STORESCP", *_peer(server), *PAT]
    (tmp_path / "a").mkdir()
    result = MOVE.run("ours", [*STRICT, "--summary-json", "s.json", *base, "-k", "PatientID=*"], tmp_path / "a")
    doc = summarycheck.check(tmp_path / "a" / "s.json", tmp_path / "a")
    assert result.rc == 0
    assert doc["totals"]["retrieved_basis"] == "completed-sub-operations"
    assert doc["totals"]["retrieved"] == 3 and doc["totals"]["objects"] == 0
    assert len(store.received()) == 3
    (tmp_path / "b").mkdir()
    result = MOVE.run("ours", [*STRICT, "--summary-json", "s.json", *base, "-k", "PatientID=none"], tmp_path / "b")
    doc = summarycheck.check(tmp_path / "b" / "s.json", tmp_path / "b")
    assert result.rc == 69 and doc["totals"]["retrieved"] == 0


def test_movescu_object_not_stored(qrscp, tmp_path: Path) -> None:
    """movescu answers 0xA700 for a file it cannot write; whatever the
    archive's final status then is, --strict-exit says 69."""
    port = qrscp.host_table["MOVESCU"]
    (tmp_path / "out" / sampledata.MR.dcmtk_filename).mkdir(parents=True)
    args = [*STRICT, "-aec", "COMMON", "--port", str(port), *_peer(qrscp), *PAT, "-k", "PatientID=4MR1"]
    result, doc = ours(MOVE, args, tmp_path)
    assert result.rc == 69
    (obj,) = doc["requests"][0]["objects"]
    assert obj["outcome"] == "write-error" and obj["path"] is None
    assert obj["answered_status"] == {"code": 0xA700, "hex": "0xa700", "text": "Refused: OutOfResources"}


def test_movescu_orthanc(make_orthanc, tmp_path: Path) -> None:
    port = free_port()
    orthanc = make_orthanc(modalities={"movescu": ["MOVESCU", "127.0.0.1", port]})
    base = [*STRICT, "-aec", orthanc.aetitle, "--port", str(port), *_peer(orthanc), *PAT]
    result, doc = ours(MOVE, [*base, "-k", "PatientID=1CT1"], tmp_path / "found")
    assert result.rc == 0 and doc["totals"]["objects_stored"] == 1
    result, doc = ours(MOVE, [*base, "-k", "PatientID=nobody"], tmp_path / "empty")
    assert result.rc == 69 and doc["totals"]["retrieved"] == 0


#: fakeqr fault -> (DCMTK movescu's status, --strict-exit status)
MOVE_CASES = {"WARN": (68, 68), "CANCEL": (0, 69), "C000": (69, 69)}


@pytest.mark.parametrize("fault", list(MOVE_CASES))
def test_movescu_fakeqr_statuses(make_fakeqr, tmp_path: Path, fault: str) -> None:
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port})
    plain_rc, strict_rc = MOVE_CASES[fault]
    args = ["--port", str(port), *_peer(server), *PAT, "-k", f"PatientID={fault}"]
    dcmtk, _mine, doc = dcmtk_and_ours(MOVE, args, tmp_path / "plain", stderr=False)
    assert dcmtk.rc == plain_rc
    if fault == "C000":  # the final response's data set carries the (empty) list
        assert doc["requests"][0]["failed_sop_instance_uids"] == []
    result, doc = ours(MOVE, [*STRICT, *args], tmp_path / "strict")
    assert result.rc == strict_rc


def test_movescu_association_rejected(qrscp, tmp_path: Path) -> None:
    result, doc = ours(MOVE, [*STRICT, "-aec", "NOSUCHAE", *_peer(qrscp), *PAT], tmp_path)
    assert result.rc == 61 and doc["association"] == "failed" and doc["move_destination"] == "MOVESCU"


# ---------------------------------------------------------------------------
# the summary file itself


def test_summary_to_standard_output(qrscp, tmp_path: Path) -> None:
    (tmp_path / "out").mkdir()
    result = GET.run("ours", [*STRICT, "--summary-json", "-", "-od", "out", "-aec", "COMMON", *_peer(qrscp), *PAT,
                              "-k", "PatientID=1CT1"], tmp_path)
    doc = summarycheck.check(json.loads(result.stdout), tmp_path)
    assert result.rc == 0 and doc["totals"]["objects"] == 1


def test_summary_cannot_be_written(qrscp, tmp_path: Path) -> None:
    result = GET.run("ours", ["--summary-json", "nodir/s.json", "--ignore", "-aec", "COMMON", *_peer(qrscp), *PAT,
                              "-k", "PatientID=1CT1"], tmp_path)
    assert result.rc == 1
    assert result.stderr == "E: cannot write summary file nodir/s.json: No such file or directory\n"


def test_summary_replaces_atomically(qrscp, tmp_path: Path) -> None:
    """An existing file is replaced, no temporary file is left behind."""
    (tmp_path / "out").mkdir()
    (tmp_path / "s.json").write_text("old")
    GET.run("ours", ["--summary-json", "s.json", "-od", "out", "-aec", "COMMON", *_peer(qrscp), *PAT,
                     "-k", "PatientID=1CT1"], tmp_path)
    summarycheck.check(tmp_path / "s.json", tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out", "s.json"]


@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_summary_written_on_ctrl_c(make_fakeqr, tmp_path: Path, tool: str) -> None:
    """SIGINT while the peer stalls before its first response (fakeqr
    DELAY; a C-MOVE's sub-association is already open): exit 1 as before,
    and the summary says so."""
    port = free_port()
    server = make_fakeqr(delay=20.0, destinations={"MOVESCU": port})
    (tmp_path / "out").mkdir()
    runner, extra, sent = (GET, [], "I: Sending C-GET Request") if tool == "getscu" else \
        (MOVE, ["--port", str(port)], "I: Sending Move Request")
    proc = subprocess.Popen([*runner.argv("ours"), "-v", *STRICT, "--summary-json", "s.json", "-od", "out", *extra,
                             *_peer(server), *PAT, "-k", "PatientID=DELAY"],
                            cwd=tmp_path, env=runner.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True)
    try:
        deadline = time.monotonic() + 30
        assert proc.stderr is not None
        for line in proc.stderr:
            if line.startswith(sent):
                break
            assert time.monotonic() < deadline
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1
    doc = summarycheck.check(tmp_path / "s.json", tmp_path)
    assert doc["end_reason"] == "interrupted" and doc["exit_status"] == 1
    assert doc["requests"][0]["status"] is None


# ---------------------------------------------------------------------------
# the command line


@pytest.mark.parametrize("tool", [GET, MOVE], ids=["getscu", "movescu"])
def test_allow_empty_needs_strict_exit(tool: harness.Harness, tmp_path: Path) -> None:
    result = tool.run("ours", ["--allow-empty", "127.0.0.1", "104", *PAT], tmp_path)
    assert result.rc == 1
    assert result.stderr.endswith("\nerror: --allow-empty only allowed with --strict-exit\n")
    assert not list(tmp_path.iterdir())
