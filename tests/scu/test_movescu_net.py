"""movescu's network side against real peers, differentially against DCMTK 3.6.7.

Every differential test runs the same argv through ``/usr/bin/movescu`` and
through ours, one after the other on the same ``--port`` (the dcmqrscp
HostTable maps MOVESCU to it), each in its own empty directory, and compares
exit code, stderr, stdout and the received files byte for byte.
"""

from __future__ import annotations

import socket
import subprocess
import time
from pathlib import Path

import pytest

from support import harness
from support.ports import free_port

pytestmark = pytest.mark.network

#: ours is the venv's console script; the environment is passed on unchanged
MOVE = harness.Harness("movescu", ours="script", timeout=60, scrub=())
OURS = MOVE.argv("ours")


def run(argv: list[str], cwd: Path, env: dict[str, str] | None = None) -> harness.Result:
    return harness.run(argv, cwd, env=MOVE.env(env), timeout=MOVE.timeout)


def pair(tmp_path: Path, args: list[str], env: dict[str, str] | None = None, od: bool = True) -> harness.Pair:
    """Run DCMTK and ours with ``args`` in ``tmp_path/{dcmtk,ours}``, each
    with an empty ``out`` directory; with ``od`` each gets ``-od out``."""
    extra = ["-od", "out"] if od else []
    return MOVE.run_both(extra + args, tmp_path, env=env, prepare=lambda work: (work / "out").mkdir())


def assert_same(results: harness.Pair, compare_files: bool = True) -> None:
    """Exit status, stderr, stdout and the files directly in ``out``."""
    harness.assert_same(*results, files="out" if compare_files else None, recursive=False)


@pytest.fixture
def qr(qrscp):
    return qrscp, qrscp.host_table["MOVESCU"]


def test_move_to_self_verbose_transcript_and_files(tmp_path, qr, query_files):
    server, port = qr
    args = ["-v", "-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
            str(query_files["pat_all"])]
    results = pair(tmp_path, args)
    assert_same(results)
    assert len(results.ours.files("out", recursive=False)) == 3
    assert results.ours.stdout == "RECV: ...\nRECV: .\nRECV: .\n"


@pytest.mark.parametrize(
    "options",
    [
        ["+te"], ["+tb"], ["+ti"], ["-F"], ["+g"], ["-g"], ["-e"], ["+p", "16", "8"], ["-u", "+ti"],
        ["+xi"], ["+xb"], ["+xi", "+te"], ["+xb", "+ti", "-e"], ["+td"], ["+td", "+cl", "9"], ["+td", "+cl", "0"],
    ],
    ids=lambda o: " ".join(o),
)
def test_output_encodings_byte_identical(tmp_path, qr, query_files, options):
    server, port = qr
    args = options + ["-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
                      str(query_files["pat_all"])]
    results = pair(tmp_path, args)
    assert_same(results)
    assert len(results.ours.files("out", recursive=False)) == 3


def test_sequence_of_undefined_length_is_rewritten_explicit(tmp_path, make_qrscp, query_files):
    """DCMTK's default +e: a data set sent with undefined-length sequences is
    written with explicit lengths (so the file differs from the sent bytes)."""
    import pydicom
    from pydicom.data import get_testdata_file

    src = Path(get_testdata_file("rtplan.dcm"))
    ds = pydicom.dcmread(src)
    ds.PatientID = "SEQUNDEF"
    seqfile = tmp_path / "seq.dcm"
    ds.save_as(seqfile, enforce_file_format=True)  # pydicom writes undefined lengths
    port = free_port()
    server = make_qrscp(files=[seqfile], host_table={"MOVESCU": port})
    args = ["-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=SEQUNDEF"]
    for extra in ([], ["-e"], ["+g"]):
        results = pair(tmp_path / ("x" + "".join(extra)), extra + args)
        assert_same(results)


@pytest.mark.parametrize("options", [["+B"], ["+B", "-F"], ["+B", "+xi"]], ids=lambda o: " ".join(o))
def test_bit_preserving_writes_into_od(tmp_path, qr, query_files, options):
    """+B: DCMTK writes into the cwd (ignoring -od); we write into -od
    (deviation #3).  The bytes must be identical."""
    server, port = qr
    args = options + ["-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
            str(query_files["pat_all"])]
    d, o = pair(tmp_path, args)
    assert d.rc == o.rc == 0
    assert d.stderr == o.stderr
    dcmtk_files = d.files(recursive=False)
    assert len(dcmtk_files) == 3
    assert o.files("out", recursive=False) == dcmtk_files
    assert o.files(recursive=False) == {}
    some = next(iter(dcmtk_files.values()))
    if "-F" not in options:
        assert b"OFFIS_DCMBP_367" in some[:400] and b"COMMON" in some[:400]
    else:
        assert b"DICM" not in some[:200]


def test_ignore_writes_nothing(tmp_path, qr, query_files):
    server, port = qr
    args = ["-v", "--ignore", "-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
            str(query_files["pat_ct"])]
    results = pair(tmp_path, args)
    assert_same(results)
    assert results.ours.files("out", recursive=False) == {}


def test_repeat_abort_and_overwrite_warning(tmp_path, qr, query_files):
    server, port = qr
    args = ["-v", "--repeat", "2", "--abort", "-aec", "COMMON", "--port", str(port), "127.0.0.1",
            str(server.port), str(query_files["pat_ct"]), str(query_files["study_mr"])]
    results = pair(tmp_path, args)
    assert_same(results)
    assert "MsgID 4" in results.ours.stderr
    assert "DICOM file already exists, overwriting: out/CT." in results.ours.stderr


def test_cancel_after_first_pending(tmp_path, qr, query_files):
    server, port = qr
    args = ["-v", "--cancel", "1", "-aec", "COMMON", "--port", str(port), "127.0.0.1",
            str(server.port), str(query_files["pat_all"])]
    d, o = pair(tmp_path, args)
    assert o.rc == d.rc
    assert "I: Sending Cancel Request (MsgID 1, PresID 3)" in o.stderr
    assert "Cancel: SubOperationsTerminatedDueToCancelIndication" in o.stderr


def test_no_port_is_refused_and_unknown_destination(tmp_path, qr, query_files):
    server, _port = qr
    for extra in ([], ["-aem", "NOSUCHAE"]):
        args = ["-v", "-aec", "COMMON"] + extra + ["127.0.0.1", str(server.port), str(query_files["pat_ct"])]
        results = pair(tmp_path / ("n" + "".join(extra)), args, od=False)
        d, o = results
        assert o.rc == d.rc == 69
        assert o.stderr == d.stderr


def test_bad_query_file_mid_run(tmp_path, qr, query_files):
    server, port = qr
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"garbage\n")
    args = ["-v", "-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port), str(bad),
            str(query_files["pat_ct"])]
    results = pair(tmp_path, args)
    assert_same(results)


def test_association_failures(tmp_path, qr):
    server, _port = qr
    closed = free_port()
    cases = [
        ["-v", "127.0.0.1", str(closed), "-k", "PatientID=1"],
        ["127.0.0.1", str(server.port), "-k", "QueryRetrieveLevel=PATIENT"],  # called AE unknown
        ["-aet", "", "-aec", "COMMON", "127.0.0.1", str(server.port), "-k", "PatientID=1"],
    ]
    for i, args in enumerate(cases):
        d, o = pair(tmp_path / str(i), args, od=False)
        assert (o.rc, o.stderr) == (d.rc, d.stderr)


def test_busy_listen_port_exit_60(tmp_path, qr, query_files):
    server, _port = qr
    busy = socket.socket()
    busy.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    busy.bind(("", 0))
    busy.listen(1)
    try:
        args = ["-aec", "COMMON", "--port", str(busy.getsockname()[1]), "127.0.0.1", str(server.port),
                str(query_files["pat_ct"])]
        d, o = pair(tmp_path, args)
        assert o.rc == d.rc == 60
        assert o.stderr == d.stderr == (
            "F: cannot create network: 0006:031c TCP Initialization Error: Address already in use\n")
    finally:
        busy.close()


def test_third_party_move_to_storescp(tmp_path, make_storescp, make_qrscp, query_files):
    store = make_storescp()
    server = make_qrscp(host_table={"STORESCP": store.port})
    args = ["-v", "-aec", "COMMON", "-aem", "STORESCP", "127.0.0.1", str(server.port),
            str(query_files["pat_all"])]
    d, o = pair(tmp_path, args, od=False)
    assert (o.rc, o.stderr) == (d.rc, d.stderr)
    assert o.rc == 0


def test_orthanc_move_to_self(tmp_path, make_orthanc):
    port = free_port()
    orthanc = make_orthanc(modalities={"movescu": ["MOVESCU", "127.0.0.1", port]})
    args = ["-v", "-aec", orthanc.aetitle, "--port", str(port), "127.0.0.1", str(orthanc.port),
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1"]
    results = pair(tmp_path, args)
    assert_same(results)
    assert results.ours.rc == 0
    assert len(results.ours.files("out", recursive=False)) == 1


# ------------------------------------------------------------------ faults --


@pytest.fixture
def fq(make_fakeqr):
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port}, delay=3.0)
    return server, port


@pytest.mark.parametrize("pid,code", [("WARN", 68), ("A701", 69), ("A801", 69), ("C000", 69),
                                      ("C123", 69), ("CANCEL", 0), ("MISMATCH", 69)])
def test_final_statuses_against_fakeqr(tmp_path, fq, pid, code):
    server, port = fq
    args = ["-v", "--port", str(port), "127.0.0.1", str(server.port),
            "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={pid}"]
    results = pair(tmp_path, args)
    assert_same(results)
    assert results.ours.rc == code


@pytest.mark.parametrize("pid,extra", [("PENDDS", ["-pr"]), ("PENDDS", []), ("ABORT", []), ("RELEASE", []),
                                       ("BADCTX", [])])
def test_exchange_failures_against_fakeqr(tmp_path, fq, pid, extra):
    server, port = fq
    args = ["-v"] + extra + ["--port", str(port), "127.0.0.1", str(server.port),
                             "-k", "QueryRetrieveLevel=PATIENT", "-k", f"PatientID={pid}"]
    results = pair(tmp_path, args)
    if pid == "PENDDS":
        # fakeqr sends the second C-STORE (sub-association) and the first
        # Pending response (main association) from different threads: which
        # one DCMTK -- or we -- read first depends on timing, so the CT line
        # may move; everything else must be identical
        d, o = results
        drop = "I: Received Store Request (MsgID 3, CT)\n"
        assert o.rc == d.rc == 0
        assert o.stderr.replace(drop, "") == d.stderr.replace(drop, "")
        if extra:  # -pr: both objects stored, the move succeeds
            assert drop in o.stderr
            assert o.files("out", recursive=False) == d.files("out", recursive=False)
        else:  # -pi: the unread data set breaks the next command read
            assert "E: 0006:020f DIMSE: Command PDV Expected\n" in o.stderr
        return
    assert_same(results)


def test_dimse_timeout_with_stalling_peer(tmp_path, fq):
    server, port = fq
    args = ["-v", "-td", "1", "--port", str(port), "127.0.0.1", str(server.port),
            "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=DELAY"]
    d, o = pair(tmp_path, args)
    assert (o.rc, o.stderr) == (d.rc, d.stderr)
    assert "0006:0207 DIMSE No data available" in o.stderr


def test_abort_mid_object_leaves_nothing(tmp_path, fq):
    server, port = fq
    work = tmp_path / "w"
    (work / "out").mkdir(parents=True)
    proc = run(OURS + ["-td", "2", "-od", "out", "--port", str(port), "127.0.0.1", str(server.port),
                       "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=ABORTMID"], work)
    # fakeqr sends no final response after aborting the sub-association: -td ends the wait
    assert proc.rc == 0
    assert "E: Store SCP Failed: 0006:0317 Peer aborted Association (or never connected)\n" in proc.stderr
    assert "E: Move Request Failed: 0006:0207 DIMSE No data available" in proc.stderr
    assert list((work / "out").iterdir()) == []  # deviation #5: no partial or temporary file


def test_evil_uids_stay_inside_od(tmp_path, fq):
    server, port = fq
    work = tmp_path / "w"
    (work / "out").mkdir(parents=True)
    # the 300-character UID of the third object breaks fakeqr's own DIMSE
    # decoder (it never answers again), so -td ends the wait
    proc = run(OURS + ["-td", "3", "-od", "out", "--port", str(port), "127.0.0.1", str(server.port),
                       "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=EVILUID"], work)
    assert proc.rc == 0, proc.stderr
    assert not (Path(server.workdir) / "outside" / "evil-abs").exists()
    assert not (tmp_path / "x").exists()
    assert [p for p in work.iterdir() if p.name != "out"] == []
    assert list((work / "out").iterdir())
    for p in (work / "out").rglob("*"):
        assert p.parent == work / "out"


def test_echo_and_store_on_sub_association_ts_preferences(tmp_path, fq):
    server, port = fq
    for opt in ([], ["+xr"], ["+xa"], ["+xi"], ["+xd"], ["+xs"]):
        args = ["-d" if False else "-v"] + opt + ["--port", str(port), "127.0.0.1", str(server.port),
                                                  "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=TS"]
        results = pair(tmp_path / ("t" + "".join(opt)), args)
        assert_same(results)


# ------------------------------------------------------------------- +ac --


def test_access_control_denied_and_allowed(tmp_path, qr, query_files):
    server, port = qr
    allow = tmp_path / "hosts.allow"
    deny = tmp_path / "hosts.deny"
    allow.write_text("# nothing allowed explicitly\n")
    deny.write_text("movescu: ALL\n")
    env = {"DCMRETRIEVE_HOSTS_ALLOW": str(allow), "DCMRETRIEVE_HOSTS_DENY": str(deny)}
    for extra, name in ((["+ac"], "localhost"), (["+ac", "-dhl"], "unknown")):
        work = tmp_path / name
        (work / "out").mkdir(parents=True)
        proc = run(OURS + ["-v", "-od", "out"] + extra + ["-aec", "COMMON", "--port", str(port), "127.0.0.1",
                                                          str(server.port), str(query_files["pat_ct"])],
                   work, env)
        assert proc.rc == 69
        assert f"E: 0006:0324 TCP wrapper: denied connection from {name} (127.0.0.1)\n" in proc.stderr
        assert list((work / "out").iterdir()) == []
    allow.write_text("movescu: 127.0.0.0/255.0.0.0\n")
    work = tmp_path / "allowed"
    (work / "out").mkdir(parents=True)
    proc = run(OURS + ["+ac", "-od", "out", "-aec", "COMMON", "--port", str(port), "127.0.0.1",
                       str(server.port), str(query_files["pat_ct"])], work, env)
    assert proc.rc == 0, proc.stderr
    assert len(list((work / "out").iterdir())) == 1


def test_write_failure_answers_a700(tmp_path, qr, query_files):
    """A directory in the way of the CT file: cannot write, 0xA700, the move
    ends with a warning (exit 68); MR and RP are stored."""
    server, port = qr
    args = ["-v", "-od", "out", "-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
            str(query_files["pat_all"])]
    results = MOVE.run_both(args, tmp_path, prepare=lambda work: (
        work / "out" / "CT.1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322").mkdir(parents=True))
    assert_same(results)
    assert results.ours.rc == 68
    assert "E: cannot write DICOM file: out/CT.1.3.6.1.4.1.5962.1.1.1.1.1.20040119072730.12322\n" in results.ours.stderr
    assert sorted(p.name for p in (results.ours.cwd / "out").iterdir() if p.name.startswith(".")) == []


@pytest.mark.dcmtk("echoscu")
def test_echo_on_sub_association(tmp_path, make_fakeqr):
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=["--sleep-first", "3"])
    work = tmp_path / "w"
    (work / "out").mkdir(parents=True)
    errfile = tmp_path / "stderr.txt"
    with open(errfile, "w") as errfh:
        proc = subprocess.Popen(OURS + ["-v", "-od", "out", "--port", str(port), "127.0.0.1", str(server.port),
                                        "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=SLEEPFIRST"],
                                cwd=work, stdout=subprocess.DEVNULL, stderr=errfh, text=True)
        try:
            deadline = time.monotonic() + 20
            while "Request Identifiers" not in errfile.read_text() and time.monotonic() < deadline:
                time.sleep(0.05)
            echo = subprocess.run(["/usr/bin/echoscu", "-to", "5", "-aet", "ECHOER", "-aec", "MOVESCU",
                                   "127.0.0.1", str(port)], capture_output=True, text=True, timeout=30)
            proc.wait(timeout=60)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    err = errfile.read_text()
    assert echo.returncode == 0, echo.stderr
    assert proc.returncode == 0, err
    assert "I: Sub-Association Received\nI: Sub-Association Acknowledged (Max Send PDV: 16372)\n" \
           "I: Received Echo Request (MsgID 1)\n" in err
    assert "I: Received Store Request (MsgID 2, MR)\n" in err


@pytest.mark.parametrize("options", [["-xi"], ["-xb"], ["-xd"], ["-S"], ["-O"], ["-aet", "OTHERAE"]],
                         ids=lambda o: " ".join(o))
def test_models_and_proposed_syntaxes(tmp_path, qr, query_files, options):
    server, port = qr
    query = query_files["study_mr"] if "-S" in options else query_files["pat_ct"]
    if "OTHERAE" in options:
        port = server.host_table["OTHERAE"]
    args = ["-v"] + options + ["-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port), str(query)]
    results = pair(tmp_path, args)
    assert_same(results)


@pytest.mark.parametrize("mode", ["nofind", "storeonly"])
def test_move_context_missing(tmp_path, make_fakeqr, mode):
    """Only FIND accepted: 'Move SCU Failed: 0006:0208', abort, exit 0;
    no Q/R context at all: 'No Acceptable Presentation Contexts', exit 66."""
    server = make_fakeqr(mode=mode)
    args = ["-v", "127.0.0.1", str(server.port), "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1"]
    d, o = pair(tmp_path, args, od=False)
    assert (o.rc, o.stderr) == (d.rc, d.stderr)
    assert o.rc == (0 if mode == "nofind" else 66)


def test_error_status_is_sticky_across_requests(tmp_path, qr, query_files):
    """First C-MOVE fails (unknown destination), the second succeeds: exit 69."""
    server, _port = qr
    args = ["-v", "-aec", "COMMON", "-aem", "NOSUCHAE", "--repeat", "2", "127.0.0.1", str(server.port),
            str(query_files["pat_ct"]), str(query_files["pat_none"])]
    d, o = pair(tmp_path, args, od=False)
    assert (o.rc, o.stderr) == (d.rc, d.stderr)
    assert o.rc == 69
    assert "I: Sending Move Request (MsgID 4)" in o.stderr


@pytest.mark.parametrize("level", [["-ll", "info"], ["-ll", "warn"], ["-q"]], ids=lambda o: " ".join(o))
def test_progress_only_at_info(tmp_path, qr, query_files, level):
    server, port = qr
    args = level + ["-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port), str(query_files["pat_all"])]
    results = pair(tmp_path, args)
    assert_same(results)
    assert results.ours.stdout == ("RECV: ...\nRECV: .\nRECV: .\n" if "info" in level else "")


@pytest.mark.parametrize("nodelay", [None, "1"])
def test_move_to_self_debug_transcript(tmp_path, qr, query_files, nodelay):
    """``-d``, C-MOVE to self: the whole debug transcript as DCMTK 3.6.7's,
    the sub-associations included (DUL's TCP_NODELAY line, the socket
    timeouts, the A-ASSOCIATE-RQ hex dump, "Parsing an A-ASSOCIATE PDU",
    "Constructing Associate AC PDU", an empty Responding Application Name, no
    C-STORE-RSP dump, C-MOVE-RSP dumps without a presentation context);
    only DCMTK's dcmdata-internal lines and the banner are left out."""
    server, port = qr
    args = ["-d", "-aec", "COMMON", "--port", str(port), "127.0.0.1", str(server.port),
            str(query_files["pat_all"])]
    env = {"TCP_NODELAY": nodelay} if nodelay else None
    results = pair(tmp_path, args, env=env)

    def norm(text: str) -> str:
        return harness.normalise(text, drop_prefixes=harness.DCMDATA_DEBUG_PREFIXES).replace("out/", "<OD>/")

    dcmtk_text = results[0].stdout + results[0].stderr
    assert "Constructing Associate AC PDU" in dcmtk_text and "Association Received" in dcmtk_text
    assert ("DUL: disabling Nagle algorithm" in dcmtk_text) == bool(nodelay)
    harness.assert_same(*results, files="out", recursive=False, normalise_stderr=norm, normalise_stdout=norm)
