"""getscu end to end: differential tests against DCMTK 3.6.7 and fault tests.

Why differential: DCMTK 3.6.7 is the oracle.  Running the same argv through
/usr/bin/getscu and ours against the same peer (dcmqrscp, fakeqr, Orthanc,
storescp) and comparing exit status, stderr and the files written (names and
bytes) catches any drift without hard-coding expected output.  Where we
deviate on purpose (docs/deviations.md) the test says which deviation.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from support import harness
from support import sampledata
from support.ports import free_port

#: ours by explicit interpreter + module (PATH's getscu may be anything);
#: DCMDICTPATH removed; undecodable output bytes replaced
GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
Run = harness.Result


def run_tool(tool: str, args: list[str], cwd: Path, env: dict[str, str] | None = None) -> Run:
    """Run ``dcmtk`` or ``ours`` with ``args`` in ``cwd`` (created)."""
    return GET.run(tool, args, cwd, env=env)


def run_both(args: list[str], tmp: Path, env: dict[str, str] | None = None,
             prepare=None) -> harness.Pair:  # type: ignore[no-untyped-def]
    """(dcmtk, ours), each in its own fresh working directory under ``tmp``."""
    return GET.run_both(args, tmp, env=env, prepare=prepare)


def comparable_stderr(text: str) -> str:
    """Without the DEBUG lines only DCMTK prints (dcmdata internals)."""
    return harness.normalise(text, drop_prefixes=harness.DCMDATA_DEBUG_PREFIXES)


def assert_same(dcmtk: Run, ours: Run, files: bool = True, debug: bool = False) -> None:
    """Exit status, stderr (with ``debug``: minus dcmdata-internal DEBUG
    lines), stdout and every file below the working directory identical."""
    harness.assert_same(dcmtk, ours, files="." if files else None,
                        normalise_stderr=comparable_stderr if debug else None)


pytestmark = pytest.mark.network

PAT = ["-k", "QueryRetrieveLevel=PATIENT"]


def _peer(server) -> list[str]:  # type: ignore[no-untyped-def]
    return [server.host, str(server.port)]


# ---------------------------------------------------------------------------
# dcmqrscp: the happy paths, option by option


@pytest.mark.parametrize("opts", [
    ["-v"],
    ["-v", "+B"],
    ["-v", "--ignore"],
    ["-v", "-od", "out//"],
    ["-v", "+B", "-od", "out"],
    ["-d"],
    ["-d", "+B"],
    ["-d", "--ignore"],
    ["-v", "+v"],
    ["-v", "-aet", "ABCDEFGHIJKLMNOPQRSTUV"],
    ["-v", "-pdu", "4096"],
    ["-v", "-pdu", "131072"],
    ["-v", "-to", "5", "-ta", "5", "-td", "5"],
    ["-v", "--repeat", "2"],
    ["-v", "--abort"],
    ["-v", "-xe", "+xe"],
    ["-v", "-xb", "+xb"],
    ["-v", "-xd", "+xd"],
    ["-v", "-x=", "+x="],
    ["-v", "+xs"],
    ["-v", "+xv"],
    ["-q"],
    [],
], ids=lambda o: " ".join(o) or "default")
def test_dcmqrscp_all_patients(qrscp, tmp_path: Path, opts: list[str]) -> None:
    args = [*opts, "-aec", "COMMON", *_peer(qrscp), *PAT, "-k", "PatientID=*"]

    def prepare(cwd: Path) -> None:
        (cwd / "out").mkdir()

    dcmtk, ours = run_both(args, tmp_path, prepare=prepare)
    assert_same(dcmtk, ours, debug="-d" in opts)
    assert len(ours.files()) == (0 if "--ignore" in opts else 3)


@pytest.mark.parametrize("opts,keys", [
    (["-S"], ["-k", "QueryRetrieveLevel=STUDY", "-k", f"StudyInstanceUID={sampledata.MR.study_instance_uid}"]),
    (["-O"], ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=4MR1"]),
    (["-P"], ["-k", "QueryRetrieveLevel=STUDY", "-k", "PatientID=1CT1",
              "-k", f"StudyInstanceUID={sampledata.CT.study_instance_uid}"]),
    (["-P"], ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=none"]),
    (["-P"], ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1CT1", "-k", "Bad=1",
              "-k", "(0010,0010)=Foo", "-k", "PatientID=id00001"]),
], ids=["study", "psonly", "patient-study-level", "no-match", "keys-rightmost-bad"])
def test_dcmqrscp_models_and_keys(qrscp, tmp_path: Path, opts: list[str], keys: list[str]) -> None:
    dcmtk, ours = run_both(["-v", *opts, "-aec", "COMMON", *_peer(qrscp), *keys], tmp_path)
    assert_same(dcmtk, ours)


_NAMES_CFG = """log4cplus.rootLogger = INFO, console
log4cplus.appender.console = log4cplus::ConsoleAppender
log4cplus.appender.console.layout = log4cplus::PatternLayout
log4cplus.appender.console.layout.ConversionPattern = %P [%c] %m%n
"""


@pytest.mark.parametrize("case", ["overwrite", "rejected", "no-get-context", "final-report"])
def test_logger_names(qrscp, storescp, tmp_path: Path, case: str) -> None:
    """Every message goes through DCMTK's logger (dcmtk.dcmnet vs dcmtk.apps.getscu)."""
    cfg = tmp_path / "names.cfg"
    cfg.write_text(_NAMES_CFG)
    peer = _peer(storescp) if case == "no-get-context" else _peer(qrscp)
    aec = {"overwrite": "COMMON", "final-report": "COMMON", "rejected": "NOSUCHAE", "no-get-context": "STORESCP"}[case]
    args = ["-lc", str(cfg), "-aec", aec, "-od", "lg", *peer, *PAT, "-k", "PatientID=1CT1"]

    def prepare(cwd: Path) -> None:
        (cwd / "lg").mkdir()
        if case == "overwrite":
            (cwd / "lg" / sampledata.CT.dcmtk_filename).write_bytes(b"old")

    dcmtk, ours = run_both(args, tmp_path, prepare=prepare)
    assert_same(dcmtk, ours)
    assert ours.stdout  # a ConsoleAppender without logToStderr writes to stdout


def test_query_file_with_sequence(qrscp, query_files, tmp_path: Path) -> None:
    args = ["-d", "-aec", "COMMON", *_peer(qrscp), str(query_files["seq"]), "-k", "PatientID=1CT1"]
    dcmtk, ours = run_both(args, tmp_path)
    assert_same(dcmtk, ours, debug=True)


def test_query_file_one(qrscp, query_files, tmp_path: Path) -> None:
    args = ["-v", "-aec", "COMMON", *_peer(qrscp), str(query_files["pat_ct"])]
    dcmtk, ours = run_both(args, tmp_path)
    assert_same(dcmtk, ours)
    assert list(ours.files()) == [sampledata.CT.dcmtk_filename]


def test_query_file_unreadable(qrscp, query_files, tmp_path: Path) -> None:
    bad = tmp_path / "bad.dcm"
    bad.write_bytes(b"garbage\n")
    args = ["-v", "-aec", "COMMON", *_peer(qrscp), str(query_files["pat_none"]), str(bad)]
    dcmtk, ours = run_both(args, tmp_path)
    assert_same(dcmtk, ours)
    assert ours.rc == 1


def test_several_query_files_deviation_1(qrscp, query_files, tmp_path: Path) -> None:
    """Deviation #1: DCMTK crashes after the last file; ours processes every file,
    prints the report and releases.  Compared with DCMTK run file by file."""
    files = [str(query_files["pat_ct"]), str(query_files["pat_none"]), str(query_files["study_mr"])]
    ours = run_tool("ours", ["-v", "-aec", "COMMON", "--ignore", *_peer(qrscp), *files], tmp_path / "ours")
    assert ours.rc == 0
    assert "Segmentation" not in ours.stderr
    lines = ours.stderr.splitlines()
    assert [x for x in lines if x.startswith("I: Sending C-GET Request")] == [
        f"I: Sending C-GET Request (MsgID {n})" for n in (1, 2, 3)]
    # every request behaves as DCMTK's single-file run of the same file
    for index, name in enumerate(("pat_ct", "pat_none", "study_mr")):
        single = run_tool("dcmtk", ["-v", "-aec", "COMMON", "--ignore", *_peer(qrscp), str(query_files[name])],
                          tmp_path / f"d{index}")
        body = single.stderr.split("I: Sending C-GET Request (MsgID 1)\n", 1)[1]
        body = body.split("I: Final status report", 1)[0]
        segment = ours.stderr.split(f"I: Sending C-GET Request (MsgID {index + 1})\n", 1)[1]
        assert segment.startswith(body)
    assert lines[-1] == "I: Releasing Association"
    assert sum(1 for x in lines if x == "I: Final status report from last C-GET message:") == 1


def test_overwrite_warning(qrscp, tmp_path: Path) -> None:
    args = ["-aec", "COMMON", "-od", "o", *_peer(qrscp), *PAT, "-k", "PatientID=1CT1"]

    def prepare(cwd: Path) -> None:
        (cwd / "o").mkdir()
        (cwd / "o" / sampledata.CT.dcmtk_filename).write_bytes(b"old")

    dcmtk, ours = run_both(args, tmp_path, prepare=prepare)
    assert_same(dcmtk, ours)
    assert ours.stderr.startswith("W: DICOM file already exists, overwriting: o/CT.")


@pytest.mark.parametrize("mode", ["normal", "+B"])
def test_write_failure(qrscp, tmp_path: Path, mode: str) -> None:
    """A directory in the way: C-STORE answered 0xC000, session ends, release fails."""
    sample = sampledata.CT
    blocker = sample.dcmtk_filename if mode == "normal" else sample.sop_instance_uid
    args = ["-v", *(["+B"] if mode == "+B" else []), "-aec", "COMMON", "-od", "wf", *_peer(qrscp),
            *PAT, "-k", "PatientID=1CT1"]

    def prepare(cwd: Path) -> None:
        (cwd / "wf" / blocker).mkdir(parents=True)

    dcmtk, ours = run_both(args, tmp_path, prepare=prepare)
    assert_same(dcmtk, ours, files=False)
    assert "Association Release Failed: 0006:0316 DUL P-Data PDU arrived" in ours.stderr
    # deviation #5: no stray temporary file
    assert [p.name for p in (ours.cwd / "wf").iterdir()] == [blocker]


@pytest.mark.parametrize("args", [
    ["-v", "*PEER*", *PAT, "-k", "PatientID=1CT1"],                    # called AE unknown: rejected
    ["-d", "*PEER*", *PAT, "-k", "PatientID=1CT1"],
    ["-v", "-aet", "", "-aec", "COMMON", "*PEER*", *PAT],
    ["-v", "-aec", "", "*PEER*", *PAT],
    ["-v", "-aec", "COMMON", "127.0.0.1", "*FREE*", *PAT],               # connection refused
    ["-v", "-aec", "COMMON", "a" * 58, "*FREE*", *PAT],                 # host name too long
    ["-v", "-aec", "COMMON", "a" * 57, "*FREE*", *PAT],                 # unknown host
], ids=["rejected", "rejected-debug", "empty-aet", "empty-aec", "refused", "long-host", "unknown-host"])
def test_association_failures(qrscp, tmp_path: Path, args: list[str]) -> None:
    free = str(free_port())
    real: list[str] = []
    for arg in args:
        if arg == "*PEER*":
            real += _peer(qrscp)
        elif arg == "*FREE*":
            real.append(free)
        else:
            real.append(arg)
    dcmtk, ours = run_both(real, tmp_path)
    assert_same(dcmtk, ours, debug="-d" in args)
    assert ours.rc == 1


@pytest.mark.parametrize("prefer", ["+xs", "+xy", "+xx", "+xv", "+xw", "+xt", "+xu", "+xr", "+xm", "+xh", "+xn",
                                    "+xl", "+x2", "+x3", "+xo", "+x4", "+x5", "+xd", "+xb", "+xe", "+x="])
def test_proposed_storage_transfer_syntaxes(qrscp, tmp_path: Path, prefer: str) -> None:
    """Every +x? option: the full A-ASSOCIATE-RQ dump (+v) is DCMTK's.  The
    called AE is unknown to dcmqrscp, so the run ends right after the dump."""
    args = ["-v", "+v", prefer, "-xd", "-S", *_peer(qrscp), *PAT]
    dcmtk, ours = run_both(args, tmp_path)
    assert_same(dcmtk, ours)
    assert ours.stderr.count("Proposed Transfer Syntax(es):") == 121


@pytest.mark.parametrize("dictionary", ["/nonexistent", "custom.dic"], ids=["missing", "no-command-group"])
@pytest.mark.parametrize("level", ["-q", "-v", "-d"])
def test_data_dictionary_unusable(qrscp, tmp_path: Path, dictionary: str, level: str) -> None:
    """DCMTK builds the C-GET-RQ command set with its data dictionary: without
    one, or with one lacking the command group, the request fails after it was
    logged ("0006:0213 Data dictionary missing" / "0006:0204 DIMSE: Command
    Build Failed: ..."), getscu exits 1 without A-RELEASE."""
    if dictionary != "/nonexistent":
        dictionary = str(Path(__file__).parents[1] / "data" / "keys" / dictionary)
    args = [level, "-aec", "COMMON", *_peer(qrscp), "-k", "0008,0052=PATIENT", "-k", "0010,0020=1CT1"]
    dcmtk, ours = run_both(args, tmp_path, env={"DCMDICTPATH": dictionary})
    assert_same(dcmtk, ours, debug=level == "-d")
    assert ours.rc == 1
    assert ("E: Failed sending C-GET request: 0006:02" in ours.stderr) is (level != "-q")  # -q: silent, exit 1


def test_no_get_context_storescp(storescp, tmp_path: Path) -> None:
    dcmtk, ours = run_both(["-v", "-aec", "STORESCP", *_peer(storescp), *PAT], tmp_path)
    assert_same(dcmtk, ours)
    assert "F: No adequate Presentation Contexts for sending C-GET" in ours.stderr


def _encoded_with_sequences(ts: str, rows: bool = True) -> bytes:
    """A data set with nested sequences in transfer syntax ``ts`` (Deflated:
    117 bytes with ``rows``, an odd length, else an even length)."""
    from pydicom.dataset import Dataset
    from pydicom.sequence import Sequence

    inner = Dataset()
    inner.CodeValue = "123"
    item = Dataset()
    item.ReferencedSOPClassUID = _SC
    item.ConceptNameCodeSequence = Sequence([inner])
    ds = Dataset()
    ds.SOPClassUID = _SC
    ds.SOPInstanceUID = "1.2.3.4"
    ds.PatientName = "Doe^John"
    if rows:
        ds.Rows = 2
    ds.ReferencedStudySequence = Sequence([item])
    return sampledata.encode_dataset(ds, ts)


def _send_encoded(assoc, pdus: list[bytes], rows: bool = True) -> None:  # type: ignore[no-untyped-def]
    assoc.receive_command()
    assoc.receive_dataset(1, None)
    ctx = assoc.accepted_context(_SC)
    pdus.append(ctx.transfer_syntax.encode())
    assoc.send_command(ctx.id, _store_rq(), _encoded_with_sequences(ctx.transfer_syntax, rows))
    assoc.receive_command()
    assoc.send_command(1, _get_rsp())
    assoc._read_pdu(20)
    assoc.acknowledge_release()


@pytest.mark.parametrize("mode", ["-B", "+B", "--ignore"])
@pytest.mark.parametrize("prefer,ts,rows", [
    ("+xd", "1.2.840.10008.1.2.1.99", False), ("+xd", "1.2.840.10008.1.2.1.99", True),
    ("+xb", "1.2.840.10008.1.2.2", True), ("+x=", "1.2.840.10008.1.2", True),
], ids=["deflated", "deflated-odd-fragment", "big-endian", "implicit"])
def test_encodings_written_like_dcmtk(tmp_path: Path, mode: str, prefer: str, ts: str, rows: bool) -> None:
    """Objects received Deflated / Big Endian / Implicit with nested sequences:
    DCMTK re-encodes sequences with undefined length (and re-deflates); the
    files must be identical byte for byte.  An odd fragment length is refused
    (0xC000, session ends) unless the data set is ignored."""
    results = {}
    for tool in ("dcmtk", "ours"):
        pdus, err, rc = _scripted_peer(tool, tmp_path / tool, lambda a, p: _send_encoded(a, p, rows),
                                       ["-v", prefer, mode], storage_ts=[ts])
        assert pdus[-1] == ts.encode()
        results[tool] = (err, rc, {p.name: p.read_bytes() for p in (tmp_path / tool).iterdir()})
    assert results["ours"] == results["dcmtk"]
    odd = len(_encoded_with_sequences(ts, rows)) % 2 == 1
    assert len(results["ours"][2]) == (0 if odd or mode == "--ignore" else 1)
    assert ("Odd Fragment Length" in results["ours"][0]) == (odd and mode == "-B")


def _scripted_peer(tool: str, cwd: Path, script, args: list[str] | None = None,  # type: ignore[no-untyped-def]
                   storage_ts: list[str] | None = None) -> tuple[list[bytes], str, int]:
    """Play the peer for one getscu run: accept the association (GET context
    and every storage context, Explicit LE), then ``script(assoc, pdus)``.
    Returns (raw PDUs recorded: the A-ASSOCIATE-RQ first, stderr, exit status)."""
    import socket

    from dcmretrieve.net.conditions import DimseError
    from dcmretrieve.net.params import preference_negotiator
    from dcmretrieve.dicom.uids import EXPLICIT_LE
    from dcmretrieve.dicom import sopclasses

    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(20)
    argv = GET.argv(tool)
    cwd.mkdir(parents=True, exist_ok=True)
    extra = args if args is not None else ["-v"]
    err_path = cwd.parent / f"{cwd.name}.stderr"  # a file, not a pipe: -d output exceeds a pipe buffer
    err_file = err_path.open("wb")
    proc = subprocess.Popen([*argv, *extra, "127.0.0.1", str(listener.getsockname()[1]), *PAT,
                             "-k", "PatientID=X"],
                            cwd=cwd, env=GET.env(), stderr=err_file, stdout=subprocess.DEVNULL)
    try:
        conn, _ = listener.accept()
        conn.settimeout(20)
        raw = b""
        while len(raw) < 6 or len(raw) < 6 + int.from_bytes(raw[2:6], "big"):
            chunk = conn.recv(65536)
            assert chunk, "peer closed"
            raw += chunk
        pdus = [raw]
        negotiate = preference_negotiator([u for u, _ in sopclasses.GETSCU_PROPOSED_STORAGE]
                                            + [sopclasses.QR_MODELS["patient"][2]],
                                            [*(storage_ts or []), EXPLICIT_LE])
        assoc = _accept_replayed(conn, raw, negotiate)
        try:
            script(assoc, pdus)
        except DimseError:
            assoc.abort()  # the tool gave up on the association: its log tells what happened
        proc.wait(timeout=20)
    finally:
        listener.close()
        err_file.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    return pdus, err_path.read_text(errors="replace"), proc.returncode


_SC = "1.2.840.10008.5.1.4.1.1.7"


def _tiny_dataset(with_instance: bool = True) -> bytes:
    data = bytes.fromhex("080016005549") + (26).to_bytes(2, "little") + _SC.encode() + b"\0"
    if with_instance:
        data += bytes.fromhex("080018005549") + (8).to_bytes(2, "little") + b"1.2.3.4\0"
    return data


def _store_rq(**fields):  # type: ignore[no-untyped-def]
    from dcmretrieve.net.dimse import C_STORE_RQ, Command

    values = dict(command_field=C_STORE_RQ, message_id=5, affected_sop_class_uid=_SC,
                  affected_sop_instance_uid="1.2.3.4", priority=0)
    values.update(fields)
    return Command(**values)


def _get_rsp(status: int = 0):  # type: ignore[no-untyped-def]
    from dcmretrieve.net.dimse import C_GET_RSP, Command
    from dcmretrieve.dicom import sopclasses

    return Command(command_field=C_GET_RSP, message_id_being_responded_to=1,
                     affected_sop_class_uid=sopclasses.QR_MODELS["patient"][2], status=status,
                     remaining=0, completed=1, failed=0, warning=0)


def _wire_script(assoc, pdus: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    pdus += [bytes(assoc._read_pdu(20)[1]) for _ in range(2)]
    assoc.send_command(assoc.accepted_context(_SC).id, _store_rq(), _tiny_dataset())
    pdus.append(bytes(assoc._read_pdu(20)[1]))
    assoc.send_command(1, _get_rsp())
    release_type, release_body = assoc._read_pdu(20)
    pdus.append(bytes([release_type]) + bytes(release_body))
    assoc.acknowledge_release()


def _capture_wire(tool: str, cwd: Path) -> tuple[list[bytes], str]:
    pdus, err, _rc = _scripted_peer(tool, cwd, _wire_script)
    return pdus, err


def _no_dataset_announced(assoc, pdus: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    """C-STORE-RQ claiming no data set, followed by one anyway."""
    from dcmretrieve.net.dimse import NO_DATASET

    assoc.receive_command()
    assoc.receive_dataset(1, None)
    ctx = assoc.accepted_context(_SC).id
    assoc._send_pdvs(ctx, _store_rq(data_set_type=NO_DATASET).encode(), True)
    assoc._send_pdvs(ctx, _tiny_dataset(), False)
    assoc.receive_command()
    assoc.send_command(1, _get_rsp())
    assoc._read_pdu(20)
    assoc.acknowledge_release()


def _unexpected_command(assoc, pdus: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    from dcmretrieve.net.dimse import C_ECHO_RQ, Command

    assoc.receive_command()
    assoc.receive_dataset(1, None)
    assoc.send_command(1, Command(command_field=C_ECHO_RQ, message_id=9,
                                    affected_sop_class_uid="1.2.840.10008.1.1"))
    try:
        assoc._read_pdu(5)
    except Exception:  # noqa: BLE001 - the tool just drops the connection
        pass
    assoc.abort()


def _missing_uid(assoc, pdus: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    assoc.receive_command()
    assoc.receive_dataset(1, None)
    assoc.send_command(assoc.accepted_context(_SC).id, _store_rq(), _tiny_dataset(with_instance=False))
    assoc.receive_command()
    assoc.send_command(1, _get_rsp(0xB000))
    try:
        assoc._read_pdu(5)
        assoc.acknowledge_release()
    except Exception:  # noqa: BLE001 - the tool may abort instead
        assoc.abort()


@pytest.mark.parametrize("script", [_no_dataset_announced, _unexpected_command, _missing_uid],
                         ids=["no-dataset-announced", "unexpected-command", "missing-uid"])
@pytest.mark.parametrize("level", ["-v", "-d"])
def test_scripted_peer_differential(tmp_path: Path, script, level: str) -> None:  # type: ignore[no-untyped-def]
    _pdus, dcmtk_err, dcmtk_rc = _scripted_peer("dcmtk", tmp_path / "dcmtk", script, [level])
    _pdus, ours_err, ours_rc = _scripted_peer("ours", tmp_path / "ours", script, [level])
    if level == "-d":
        dcmtk_err, ours_err = comparable_stderr(dcmtk_err), comparable_stderr(ours_err)
    assert ours_err == dcmtk_err
    assert ours_rc == dcmtk_rc
    assert sorted(p.name for p in (tmp_path / "ours").iterdir()) == \
        sorted(p.name for p in (tmp_path / "dcmtk").iterdir())


def _accept_replayed(conn, raw_rq: bytes, negotiate):  # type: ignore[no-untyped-def]
    """Association.accept on a socket whose A-ASSOCIATE-RQ was already read."""
    from dcmretrieve.net.transport import Association

    class _Replay:
        def __init__(self) -> None:
            self.pending = raw_rq

        def recv(self, n: int) -> bytes:
            if self.pending:
                data, self.pending = self.pending, b""
                return data
            return conn.recv(n)

        def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
            return getattr(conn, name)

    return Association.accept(_Replay(), "ANY-SCP", 16384, 20, 20, negotiate)  # type: ignore[arg-type]


def test_wire_bytes_identical(tmp_path: Path) -> None:
    """What goes on the wire is DCMTK's, byte for byte: A-ASSOCIATE-RQ (121
    contexts, role items, implementation UID/version), C-GET-RQ command and
    identifier, C-STORE-RSP, A-RELEASE-RQ."""
    dcmtk, dcmtk_err = _capture_wire("dcmtk", tmp_path / "dcmtk")
    ours, ours_err = _capture_wire("ours", tmp_path / "ours")
    assert len(ours) == len(dcmtk) == 5
    for index, (mine, theirs) in enumerate(zip(ours, dcmtk)):
        assert mine == theirs, index
    assert ours_err == dcmtk_err
    assert (tmp_path / "ours" / "SC.1.2.3.4").read_bytes() == (tmp_path / "dcmtk" / "SC.1.2.3.4").read_bytes()


def _stall_70s(assoc, pdus: list[bytes]) -> None:  # type: ignore[no-untyped-def]
    import time

    assoc.receive_command()
    assoc.receive_dataset(1, None)
    time.sleep(65)
    assoc.abort()


def _slow_selected(request: pytest.FixtureRequest) -> bool:
    expr = request.config.getoption("markexpr") or ""
    return ("slow" in expr and "not slow" not in expr) or os.environ.get("DCMRETRIEVE_SLOW") == "1"


@pytest.mark.slow
def test_silent_peer_without_dimse_timeout(tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """Without -td DCMTK still gives up after 60 s of silence (its socket receive
    timeout) with a "Peer aborted" message and exit 1.  Takes about 2 x 60 s:
    run with ``pytest -m slow``."""
    if not _slow_selected(request):
        pytest.skip("slow: select with -m slow")
    _pdus, dcmtk_err, dcmtk_rc = _scripted_peer("dcmtk", tmp_path / "dcmtk", _stall_70s)
    _pdus, ours_err, ours_rc = _scripted_peer("ours", tmp_path / "ours", _stall_70s)
    assert ours_err == dcmtk_err
    assert ours_rc == dcmtk_rc == 1


# ---------------------------------------------------------------------------
# fakeqr: statuses and faults


@pytest.mark.parametrize("patient", ["WARN", "A701", "A702", "C000", "C123", "CANCEL", "MISMATCH", "TWO",
                                     "ABORT", "RELEASE", "PENDDS"])
def test_fakeqr_statuses(fakeqr, tmp_path: Path, patient: str) -> None:
    args = ["-v", "-od", "fk", *_peer(fakeqr), *PAT, "-k", f"PatientID={patient}"]

    def prepare(cwd: Path) -> None:
        (cwd / "fk").mkdir()

    dcmtk, ours = run_both(args, tmp_path, prepare=prepare)
    assert_same(dcmtk, ours)


@pytest.mark.parametrize("patient", ["MISMATCH", "WARN"])
def test_fakeqr_bit_preserving(fakeqr, tmp_path: Path, patient: str) -> None:
    args = ["-v", "+B", "-od", "fk", *_peer(fakeqr), *PAT, "-k", f"PatientID={patient}"]

    def prepare(cwd: Path) -> None:
        (cwd / "fk").mkdir()

    dcmtk, ours = run_both(args, tmp_path, prepare=prepare)
    assert_same(dcmtk, ours)


def test_dimse_timeout(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(delay=3.0)
    args = ["-v", "-td", "1", *_peer(server), *PAT, "-k", "PatientID=DELAY"]
    dcmtk, ours = run_both(args, tmp_path)
    assert_same(dcmtk, ours)
    assert ours.rc == 1
    assert "0006:0207 DIMSE No data available (timeout in non-blocking mode)" in ours.stderr


def test_acse_timeout(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(mode="stalltcp")
    dcmtk, ours = run_both(["-v", "-ta", "1", *_peer(server), *PAT], tmp_path)
    assert_same(dcmtk, ours)
    assert ours.stderr.endswith("F: Could not negotiate association: DUL network read timeout\n")


def test_no_acceptable_contexts(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(mode="storeonly")
    dcmtk, ours = run_both(["-v", *_peer(server), *PAT], tmp_path)
    assert_same(dcmtk, ours)


def test_nofind_mode(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(mode="nofind")
    dcmtk, ours = run_both(["-v", *_peer(server), *PAT], tmp_path)
    assert_same(dcmtk, ours)


def test_implicit_only_deviation_4(fakeqr, tmp_path: Path) -> None:
    """Deviation #4: +xi/-xi propose Implicit VR LE only (3.6.7: Explicit LE)."""
    for tool in ("ours", "dcmtk"):
        (tmp_path / tool / "o").mkdir(parents=True)
    ours = run_tool("ours", ["-d", "-xi", "+xi", "-od", "o", *_peer(fakeqr), *PAT, "-k", "PatientID=4MR1"],
                    tmp_path / "ours")
    dcmtk = run_tool("dcmtk", ["-d", "-xi", "+xi", "-od", "o", *_peer(fakeqr), *PAT, "-k", "PatientID=4MR1"],
                     tmp_path / "dcmtk")
    assert ours.rc == dcmtk.rc == 0
    proposed = ours.stderr.split("END A-ASSOCIATE-RQ")[0]
    assert "=LittleEndianExplicit" not in proposed
    assert proposed.count("=LittleEndianImplicit") == 121
    assert dcmtk.stderr.split("END A-ASSOCIATE-RQ")[0].count("=LittleEndianExplicit") == 121
    from pydicom import dcmread

    (name,) = ours.files("o")
    assert dcmread(ours.cwd / "o" / name).file_meta.TransferSyntaxUID == "1.2.840.10008.1.2"


def test_hostile_uids_deviation_2(make_fakeqr, tmp_path: Path) -> None:
    """Deviation #2: nothing lands outside -od, whatever the peer's UIDs.

    fakeqr (pynetdicom) cannot parse a C-STORE-RSP echoing a UID longer than
    64 characters, so it aborts after the third object: exit 1 is expected
    then, the files are what matters.  The absolute-path UID is kept short
    (a fresh directory in the system temp dir) for the same reason."""
    import shutil
    import tempfile

    outside = Path(tempfile.mkdtemp(prefix="ev"))  # short path: see above
    try:
        server = make_fakeqr(extra_args=["--evil-abs", str(outside / "evil-abs")])
        _hostile_uids(server, tmp_path, outside)
    finally:
        shutil.rmtree(outside, ignore_errors=True)


def _hostile_uids(server, tmp_path: Path, outside: Path) -> None:  # type: ignore[no-untyped-def]
    for mode in ([], ["+B"]):
        cwd = tmp_path / ("bp" if mode else "normal")
        (cwd / "deep" / "od").mkdir(parents=True)
        run = run_tool("ours", ["-v", *mode, "-od", "deep/od", *_peer(server), *PAT, "-k", "PatientID=EVILUID"],
                       cwd)
        assert run.stderr.count("I: Sending C-STORE Response (Success)") == 3, run.stderr
        assert list(outside.iterdir()) == []
        assert [p.name for p in cwd.iterdir()] == ["deep"]
        assert [p.name for p in (cwd / "deep").iterdir()] == ["od"]
        names = sorted(p.name for p in (cwd / "deep" / "od").iterdir())
        assert len(names) == 3
        assert all("/" not in n and not n.startswith(".") and len(n.encode()) <= 255 for n in names)


def test_abort_mid_object_deviation_5(make_fakeqr, tmp_path: Path) -> None:
    """An object cut off by A-ABORT: DCMTK's messages and exit 1, and (deviation
    #5) no file at all in -od, not even a temporary one."""
    server = make_fakeqr(extra_args=["--abortmid-size", str(1024 * 1024)])
    for index, mode in enumerate((["-v"], ["-v", "+B"], ["-d", "+B"], ["-v", "--ignore"])):
        od = [] if "--ignore" in mode else ["-od", "od"]
        args = [*mode, *od, *_peer(server), *PAT, "-k", "PatientID=ABORTMID"]
        dcmtk, ours = run_both(args, tmp_path / str(index), prepare=lambda cwd: (cwd / "od").mkdir())
        assert_same(dcmtk, ours, debug="-d" in mode)
        assert ours.rc == 1
        assert "E: Failed sending C-STORE response: 0006:020e DIMSE Failed to send message" in ours.stderr
        assert list((ours.cwd / "od").iterdir()) == []


def _run_measured(args: list[str], cwd: Path, timeout: float) -> tuple[int, str, int]:
    """Run ours; (exit status, stderr, peak RSS in KiB of that very process),
    measured by /usr/bin/time (test_big_objects.run_measured says why)."""
    from .test_big_objects import run_measured

    return run_measured([*GET.argv("ours"), *args], GET.env(), cwd, timeout)


def _big_object(make_fakeqr, tmp_path: Path, size: int, timeout: float) -> None:  # type: ignore[no-untyped-def]
    server = make_fakeqr(big_size=size)
    (tmp_path / "run" / "od").mkdir(parents=True)
    rc, err, rss_kib = _run_measured(["-v", "+B", "-od", "od", *_peer(server), *PAT, "-k", "PatientID=BIG"],
                                     tmp_path / "run", timeout)
    assert rc == 0, err
    (name,) = [p for p in (tmp_path / "run" / "od").iterdir()]
    assert name.stat().st_size > size
    assert not name.name.startswith(".")
    # memory stays flat: far below the object size (interpreter + pydicom ~ 60-90 MiB)
    print(f"peak RSS {rss_kib} KiB for {size} bytes")
    assert rss_kib < 150 * 1024, rss_kib


def test_big_object_bit_preserving_flat_memory(make_fakeqr, tmp_path: Path) -> None:
    """+B streams to disk: a 200 MB object with bounded RSS (the 1 GB run is marked slow)."""
    _big_object(make_fakeqr, tmp_path, 200 * 1000 * 1000, 60)


@pytest.mark.slow
def test_big_object_1gb_bit_preserving(make_fakeqr, tmp_path: Path, request: pytest.FixtureRequest) -> None:
    """>1 GB in +B mode within 60 s and flat memory.  Deselected by default:
    run with ``pytest -m slow`` (or DCMRETRIEVE_SLOW=1)."""
    if not _slow_selected(request):
        pytest.skip("slow: select with -m slow")
    _big_object(make_fakeqr, tmp_path, 1_100_000_000, 60)


def test_ctrl_c_mid_object_leaves_nothing(make_fakeqr, tmp_path: Path) -> None:
    """Deviation #5 on KeyboardInterrupt: SIGINT while a big object streams in
    removes the temporary file; no traceback reaches the user."""
    import signal
    import time

    server = make_fakeqr(big_size=400 * 1000 * 1000)
    od = tmp_path / "od"
    od.mkdir()
    proc = subprocess.Popen([*GET.argv("ours"), "+B", "-od", "od", *_peer(server), *PAT, "-k", "PatientID=BIG"],
                            cwd=tmp_path, env=GET.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while not any(p.name.startswith(".") for p in od.iterdir()):
            assert proc.poll() is None and time.monotonic() < deadline, "no temporary file appeared"
            time.sleep(0.01)
        proc.send_signal(signal.SIGINT)
        _out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode != 0
    assert b"Traceback" not in err
    assert list(od.iterdir()) == []


# ---------------------------------------------------------------------------
# Orthanc


def test_orthanc_differential(make_orthanc, tmp_path: Path) -> None:
    orthanc = make_orthanc()
    args = ["-v", "-aec", orthanc.aetitle, *_peer(orthanc), *PAT, "-k", "PatientID=4MR1"]
    dcmtk, ours = run_both(args, tmp_path)
    assert_same(dcmtk, ours)
    assert list(ours.files()) == [sampledata.MR.dcmtk_filename]
