"""Batch retrieval: --parallel, --retry/--retry-wait, --resume (docs/batch.md).

Why against real peers: what matters is what happens on the wire -- an
archive that refuses the first association, one that aborts in the middle
of a study or answers Out of Resources once, a batch killed half-way and
run again -- and that a batch gives the same files and the same summary
whether it ran over one association or eight.  fakeqr plays the faults
(``--refuse-first``, PatientID ABORTONCE/A702ONCE, ``--store-delay``);
dcmqrscp and Orthanc are the real archives.  The units at the top pin the
pieces a network test cannot pick out: the request order and keys, the
--resume file rules and the table of transient failures.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from pydicom import Dataset

from dcmretrieve.net.conditions import (
    COND_BAD_DATA, COND_NO_DATA, COND_PEER_ABORTED, AssociationError, AssociationFailure,
)
from dcmretrieve.scu import batch
from dcmretrieve.settings import Settings
from support import harness, sampledata, summarycheck
from support.ports import free_port

GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
MOVE = harness.Harness("movescu", ours="module", timeout=120.0, errors="replace")
PATIENTS = [f"BATCH{i}" for i in range(1, 9)]
PER_PATIENT = 3


# ---------------------------------------------------------------------------
# units


def _requests(settings: Settings) -> list[batch.Request]:
    return list(batch.requests_of(settings))


def test_request_order_follows_each_tool(tmp_path: Path) -> None:
    a, b = tmp_path / "a.dcm", tmp_path / "b.dcm"
    a.write_bytes(b"A")
    b.write_bytes(b"B")
    get = _requests(Settings("getscu", query_files=[str(a), str(b)], repeat=2))
    assert [(Path(r.source).name, r.round) for r in get] == [("a.dcm", 1), ("b.dcm", 1), ("a.dcm", 2), ("b.dcm", 2)]
    move = _requests(Settings("movescu", query_files=[str(a), str(b)], repeat=2, summary_json="s.json"))
    assert [(Path(r.source).name, r.round) for r in move] == [("a.dcm", 1), ("a.dcm", 2), ("b.dcm", 1), ("b.dcm", 2)]
    assert [r.index for r in move] == [0, 1, 2, 3]
    assert len({r.key for r in move}) == 4  # the round is part of the key
    # without --resume or --summary-json nothing reads the keys: not computed
    # (hashlib's OpenSSL would cost every run start-up time)
    assert {r.key for r in get} == {""}


def test_requests_are_made_as_they_are_consumed() -> None:
    """--repeat takes any 64-bit number (DCMTK's getscu too): the batch must
    not be built as a list before the first request fails (differential
    fuzzing found ours hanging where DCMTK reported the refused connection)."""
    huge = batch.requests_of(Settings("getscu", keys=["PatientID=X"], repeat=2**64 - 1))
    first = [next(huge) for _ in range(3)]
    assert [(r.index, r.round) for r in first] == [(0, 1), (1, 2), (2, 3)]


def test_request_key_is_content_keys_and_round(tmp_path: Path) -> None:
    one, two = tmp_path / "1.dcm", tmp_path / "2.dcm"
    one.write_bytes(b"same")
    two.write_bytes(b"same")
    r = str(tmp_path / "resume.json")
    k1 = _requests(Settings("getscu", query_files=[str(one)], keys=["PatientID=X"], resume=r))[0].key
    k2 = _requests(Settings("getscu", query_files=[str(two)], keys=["PatientID=X"], resume=r))[0].key
    assert k1 == k2 and k1.startswith("sha256:") and len(k1) == 7 + 64  # content, not the path
    k3 = _requests(Settings("getscu", query_files=[str(one)], keys=["PatientID=Y"], resume=r))[0].key
    assert k3 != k1
    none = _requests(Settings("getscu", keys=["PatientID=X"], resume=r))
    assert [r.source for r in none] == [None] and none[0].key != k1


def test_load_resume(tmp_path: Path) -> None:
    assert batch.load_resume(str(tmp_path / "missing.json")) == set()  # first run of a batch
    bad = tmp_path / "bad.json"
    bad.write_text("{")
    with pytest.raises(batch.ResumeError):
        batch.load_resume(str(bad))
    other = tmp_path / "other.json"
    other.write_text(json.dumps({"schema": "something/1"}))
    with pytest.raises(batch.ResumeError):
        batch.load_resume(str(other))
    good = tmp_path / "good.json"
    good.write_text(json.dumps({"schema": "dcmretrieve-summary/2", "requests": [
        {"key": "sha256:a", "outcome": "success"}, {"key": "sha256:b", "outcome": "failure"},
        {"key": "sha256:c", "outcome": None}, {"key": None, "outcome": "success"}]}))
    assert batch.load_resume(str(good)) == {"sha256:a"}


@pytest.mark.parametrize("kind,result,transient", [
    (AssociationFailure.TCP, 0, True),
    (AssociationFailure.TIMEOUT, 0, True),
    (AssociationFailure.ABORTED, 0, True),
    (AssociationFailure.CLOSED, 0, True),
    (AssociationFailure.REJECTED, 2, True),
    (AssociationFailure.REJECTED, 1, False),
    (AssociationFailure.NO_CONTEXTS, 0, False),
    (AssociationFailure.PROTOCOL, 0, False),
    (AssociationFailure.ILLEGAL_PARAMETER, 0, False),
])
def test_transient_association_table(kind: AssociationFailure, result: int, transient: bool) -> None:
    exc = AssociationError(kind, COND_PEER_ABORTED, result=result)
    assert (batch.transient_association(exc) is not None) is transient


def test_transient_conditions_and_statuses() -> None:
    assert batch.transient_condition(COND_PEER_ABORTED) is not None
    assert batch.transient_condition(COND_NO_DATA) == "timed out"
    assert batch.transient_condition(COND_BAD_DATA) is None
    assert batch.transient_condition(None) is None
    assert batch.transient_status(0xA702) is not None and batch.transient_status(0xA701) is not None
    for status in (0x0000, 0xB000, 0xA801, 0xC000, 0xFE00, None):
        assert batch.transient_status(status) is None


@pytest.mark.parametrize("args,message", [
    (["--parallel", "0"], "Invalid value for option --parallel (underflow: 0)"),
    (["--parallel", "65"], "Invalid value for option --parallel (overflow: 65)"),
    (["--retry", "1", "--retry-wait", "-1"], "Invalid value for option --retry-wait (underflow: -1)"),
    (["--retry", "1", "--retry-wait", "x"], "Invalid value for option --retry-wait (x)"),
    (["--retry-wait", "2"], "--retry-wait only allowed with --retry"),
])
def test_option_values_checked(tmp_path: Path, args: list[str], message: str) -> None:
    result = GET.run("ours", [*args, "127.0.0.1", "104", "-k", "PatientID=X"], tmp_path)
    assert result.rc == 1 and message in result.stderr, result.stderr


def test_bad_resume_file_is_fatal(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("not json")
    result = GET.run("ours", ["--resume", "bad.json", "127.0.0.1", str(free_port()), "-k", "PatientID=X"], tmp_path)
    assert result.rc == 1 and "F: cannot read summary file bad.json" in result.stderr, result.stderr


# ---------------------------------------------------------------------------
# helpers for the network tests


@pytest.fixture(scope="module")
def batch_data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    """8 patients (one study of PER_PATIENT tiny objects each) and a query file per patient."""
    root = tmp_path_factory.mktemp("batchdata")
    dirs, files, queries = [], [], []
    for pid in PATIENTS:
        _uid, paths = sampledata.make_tiny_objects(root / "data" / pid, PER_PATIENT, patient_id=pid, seed="batch")
        dirs.append(root / "data" / pid)
        files += paths
        ds = Dataset()
        ds.QueryRetrieveLevel = "PATIENT"
        ds.PatientID = pid
        queries.append(sampledata.write_query_file(ds, root / "q" / f"{pid}.dcm"))
    for fault in ("ABORTONCE", "A702ONCE"):
        ds = Dataset()
        ds.QueryRetrieveLevel = "PATIENT"
        ds.PatientID = fault
        queries.append(sampledata.write_query_file(ds, root / "q" / f"{fault}.dcm"))
    return {"dirs": dirs, "files": files, "queries": {q.stem: str(q) for q in queries}}


def fake_args(data: dict[str, object], *extra: str) -> list[str]:
    args: list[str] = []
    for directory in data["dirs"]:  # type: ignore[attr-defined]
        args += ["--data-dir", str(directory)]
    return [*args, *extra]


def run_ours(tool: harness.Harness, args: list[str], cwd: Path, summary: str = "summary.json",
             check: bool = True) -> tuple[harness.Result, dict]:
    (cwd / "out").mkdir(parents=True, exist_ok=True)
    result = tool.run("ours", ["-od", "out", "--summary-json", summary, *args], cwd)
    assert "Traceback" not in result.stderr, result.stderr
    doc = summarycheck.check(cwd / summary, cwd) if check else json.loads((cwd / summary).read_text())
    assert doc["exit_status"] == result.rc
    return result, doc


def comparable(doc: dict) -> dict:
    """What must not depend on --parallel: per request the file, round, key,
    outcome, status, counts and the objects (as a set); the totals."""
    requests = []
    for r in doc["requests"]:
        requests.append({
            "query_file": r["query_file"], "round": r["round"], "key": r["key"], "skipped": r["skipped"],
            "outcome": r["outcome"], "status": r["status"], "sub_operations": r["sub_operations"],
            "error": r["error"], "retries": len(r["retries"]), "identifier": r["identifier"],
            "objects": sorted((o["sop_instance_uid"], o["path"], o["bytes"], o["outcome"],
                               (o["answered_status"] or {}).get("code")) for o in r["objects"]),
        })
    totals = {k: v for k, v in doc["totals"].items() if k not in ("seconds", "bytes_per_second",
                                                                   "objects_per_second")}
    return {"outcome": doc["outcome"], "exit_status": doc["exit_status"], "requests": requests,
            "unattributed": len(doc["unattributed_objects"]), "totals": totals}


def queries(data: dict[str, object], *names: str) -> list[str]:
    table = data["queries"]  # type: ignore[assignment]
    return [table[n] for n in (names or PATIENTS)]  # type: ignore[index]


# ---------------------------------------------------------------------------
# the same batch over 1 and 8 associations


def assert_parallel_same(harness_: harness.Harness, base: list[str], tmp_path: Path, count: int,
                         extra: tuple[str, ...] = ()) -> tuple[harness.Result, harness.Result, dict]:
    """The same batch with ``--parallel 1`` and ``--parallel count`` (plus
    ``extra``): both succeed, store every object, write the same files and
    the same summary (but for what may differ); returns both results and the
    second summary."""
    one, doc1 = run_ours(harness_, ["--parallel", "1", *base], tmp_path / "p1")
    many, doc_many = run_ours(harness_, ["--parallel", str(count), *extra, *base], tmp_path / f"p{count}")
    assert one.rc == many.rc == 0, (one.stderr, many.stderr)
    assert doc1["totals"]["objects_stored"] == len(PATIENTS) * PER_PATIENT
    assert comparable(doc1) == comparable(doc_many)
    assert one.files("out") == many.files("out")
    return one, many, doc_many


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_parallel_gives_the_same_files_and_summary_fakeqr(make_fakeqr, batch_data, tmp_path: Path,
                                                          tool: str) -> None:
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data))
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    base = ["--strict-exit", *listen, server.host, str(server.port), *queries(batch_data)]
    one, eight, doc8 = assert_parallel_same(harness_, base, tmp_path, 8, ("-v",))
    assert doc8["parallel"] == 8 and doc8["unattributed_objects"] == []
    # the log lines of each request carry its number; the default run's carry none
    sent = "Sending C-GET Request" if tool == "getscu" else "Sending Move Request"
    tags = sorted(int(line[4:line.index("]")]) for line in eight.stderr.splitlines()
                  if line.startswith("I: [") and sent in line)
    assert tags == list(range(1, len(PATIENTS) + 1)), eight.stderr
    assert eight.stderr.count("Requesting Association") >= 2  # several associations
    assert "[" not in one.stderr


@pytest.mark.network
@pytest.mark.dcmtk
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_parallel_one_is_dcmtk_dcmqrscp(qrscp, query_files, tmp_path: Path, tool: str) -> None:
    """--parallel 1 (and --retry, --resume with nothing to resume) change
    nothing of a DCMTK command line's transcript, files or status.  (getscu
    gets one query file: DCMTK 3.6.7's getscu crashes on a second one,
    deviation #1.)"""
    if tool == "getscu":
        harness_, names, listen = GET, ["pat_all"], []
    else:
        harness_, names = MOVE, ["pat_ct", "study_mr", "pat_all"]
        listen = ["-aet", "MOVESCU", "--port", str(qrscp.host_table["MOVESCU"])]
    files = [str(query_files[n]) for n in names]
    args = ["-v", "-aec", "COMMON", *listen, qrscp.host, str(qrscp.port), *files]
    for side in ("dcmtk", "ours"):
        (tmp_path / side / "out").mkdir(parents=True)
    dcmtk = harness_.run("dcmtk", ["-od", "out", *args], tmp_path / "dcmtk")
    ours = harness_.run("ours", ["--parallel", "1", "--retry", "2", "--resume", "none.json", "-od", "out", *args],
                        tmp_path / "ours")
    assert dcmtk.rc == 0
    assert (ours.rc, ours.stdout, ours.stderr) == (dcmtk.rc, dcmtk.stdout, dcmtk.stderr)
    assert ours.files("out") == dcmtk.files("out")


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_parallel_dcmqrscp(make_qrscp, batch_data, tmp_path: Path, tool: str) -> None:
    port = free_port()
    server = make_qrscp(files=batch_data["files"], host_table={"MOVESCU": port})
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["-aet", "MOVESCU", "--port", str(port)] if tool == "movescu" else []
    base = ["--strict-exit", "-aec", "COMMON", *listen, server.host, str(server.port), *queries(batch_data)]
    assert_parallel_same(harness_, base, tmp_path, 4)


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_parallel_orthanc(make_orthanc, batch_data, tmp_path: Path, tool: str) -> None:
    port = free_port()
    orthanc = make_orthanc(files=batch_data["files"], modalities={"movescu": ["MOVESCU", "127.0.0.1", port]})
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["-aet", "MOVESCU", "--port", str(port)] if tool == "movescu" else []
    base = ["--strict-exit", "-aec", orthanc.aetitle, *listen, orthanc.host, str(orthanc.port),
            *queries(batch_data)]
    assert_parallel_same(harness_, base, tmp_path, 3)


# ---------------------------------------------------------------------------
# retries


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_refused_first_association_is_retried(make_fakeqr, batch_data, tmp_path: Path, tool: str) -> None:
    port = free_port()
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    files = queries(batch_data, "BATCH1", "BATCH2")
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data, "--refuse-first", "1"))
    # without --retry: DCMTK's failure (getscu 1, movescu 61)
    plain, doc = run_ours(harness_, [*listen, server.host, str(server.port), *files], tmp_path / "plain")
    assert plain.rc == (1 if tool == "getscu" else 61) and doc["association"] == "failed"
    server.stop()
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data, "--refuse-first", "2"))
    result, doc = run_ours(harness_, ["--strict-exit", "--retry", "3", "--retry-wait", "0.1", *listen,
                                      server.host, str(server.port), *files], tmp_path / "retry")
    assert result.rc == 0, result.stderr
    assert result.stderr.count("W: retrying request 1 ") == 2, result.stderr
    assert "retry 1 of 3: association rejected (transient)" in result.stderr
    first = doc["requests"][0]
    assert [r["attempt"] for r in first["retries"]] == [1, 2]
    assert [r["wait_seconds"] for r in first["retries"]] == [0.1, 0.2]  # doubled
    assert doc["totals"]["retries"] == 2 and doc["totals"]["objects_stored"] == 2 * PER_PATIENT


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_parallel_associations_refused_are_retried(make_fakeqr, batch_data, tmp_path: Path, tool: str) -> None:
    """Three of the four first association requests are refused: their
    workers retry, the batch completes as if nothing happened."""
    port = free_port()
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data, "--refuse-first", "3"))
    result, doc = run_ours(harness_, ["--strict-exit", "--parallel", "4", "--retry", "2", "--retry-wait", "0.1",
                                      *listen, server.host, str(server.port), *queries(batch_data)], tmp_path)
    assert result.rc == 0, result.stderr
    assert doc["totals"]["retries"] == 3 and result.stderr.count("W: [") == 3, result.stderr
    assert doc["totals"]["objects_stored"] == len(PATIENTS) * PER_PATIENT


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_retries_used_up_fail_as_dcmtk(make_fakeqr, batch_data, tmp_path: Path, tool: str) -> None:
    port = free_port()
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data, "--refuse-first", "5"))
    result, doc = run_ours(harness_, ["--retry", "1", "--retry-wait", "0", *listen, server.host, str(server.port),
                                      *queries(batch_data, "BATCH1")], tmp_path)
    assert result.rc == (1 if tool == "getscu" else 61), result.stderr
    assert result.stderr.count("W: retrying request 1 ") == 1 and doc["association"] == "failed"
    assert doc["totals"]["retries"] == 1


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_abort_mid_study_is_retried(make_fakeqr, batch_data, tmp_path: Path, tool: str) -> None:
    port = free_port()
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data))
    files = queries(batch_data, "BATCH1", "ABORTONCE", "BATCH2")
    result, doc = run_ours(harness_, ["--strict-exit", "--retry", "1", "--retry-wait", "0", *listen,
                                      server.host, str(server.port), *files], tmp_path)
    assert result.rc == 0, result.stderr
    assert "W: retrying request 2 (" in result.stderr and "association aborted or lost" in result.stderr
    aborted = doc["requests"][1]
    assert aborted["outcome"] == "success" and len(aborted["retries"]) == 1
    assert aborted["retries"][0]["objects"] == 1  # the MR received before the abort ...
    assert [o["outcome"] for o in aborted["objects"]] == ["stored"]  # ... received again, same file
    assert doc["totals"]["objects_stored"] == 2 * PER_PATIENT + 1
    # the rest of the batch ran on the new association
    assert [r["outcome"] for r in doc["requests"]] == ["success"] * 3


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_out_of_resources_is_retried(make_fakeqr, batch_data, tmp_path: Path, tool: str) -> None:
    port = free_port()
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    server = make_fakeqr(destinations={"MOVESCU": port}, extra_args=fake_args(batch_data))
    files = queries(batch_data, "A702ONCE")
    result, doc = run_ours(harness_, ["--retry", "2", "--retry-wait", "0", *listen, server.host, str(server.port),
                                      *files], tmp_path)
    assert result.rc == 0, result.stderr  # movescu: the retried request decides the status
    assert "final status 0xa702 (Out of Resources)" in result.stderr
    (request,) = doc["requests"]
    assert request["retries"][0]["status"] == "0xa702" and request["status"]["code"] == 0
    assert request["outcome"] == "success"


@pytest.mark.network
def test_failure_without_retry_ends_the_batch_also_in_parallel(make_fakeqr, batch_data, tmp_path: Path) -> None:
    """A failure that is not retried ends a --parallel batch as it ends a
    sequential one (getscu: exit 1); requests already running finish."""
    server = make_fakeqr(extra_args=fake_args(batch_data))
    files = queries(batch_data, "ABORTONCE", *PATIENTS)
    result, doc = run_ours(GET, ["--parallel", "2", server.host, str(server.port), *files], tmp_path)
    assert result.rc == 1
    assert doc["requests"][0]["error"].startswith("Failed receiving DIMSE command: 0006:0317")
    assert len(doc["requests"]) < len(files)


# ---------------------------------------------------------------------------
# resume


@pytest.mark.network
@pytest.mark.parametrize("tool,how", [("getscu", signal.SIGKILL), ("movescu", signal.SIGINT)])
def test_killed_batch_resumes(make_fakeqr, batch_data, tmp_path: Path, tool: str, how: int) -> None:
    port = free_port()
    harness_ = GET if tool == "getscu" else MOVE
    listen = ["--port", str(port)] if tool == "movescu" else []
    server = make_fakeqr(destinations={"MOVESCU": port},
                         extra_args=fake_args(batch_data, "--store-delay", "0.15"))
    files = queries(batch_data)
    cwd = tmp_path / "run"
    (cwd / "out").mkdir(parents=True)
    args = ["--resume", "s.json", "--summary-json", "s.json", "-od", "out", *listen, server.host,
            str(server.port), *files]
    proc = subprocess.Popen([*harness_.argv("ours"), *args], cwd=cwd, env=harness_.env(),
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        done = 0
        while time.monotonic() < deadline and done < 2:  # the journal shows 2 requests done
            time.sleep(0.2)
            try:
                journal = json.loads((cwd / "s.json").read_text())
            except (OSError, ValueError):
                continue
            done = sum(1 for r in journal["requests"] if r["outcome"] == "success")
        assert done >= 2 and journal["end_reason"] == "running"
        summarycheck.check(journal, cwd, exhaustive=False)
        proc.send_signal(how)
        proc.wait(30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    first = json.loads((cwd / "s.json").read_text())
    finished = sum(1 for r in first["requests"] if r["outcome"] == "success")
    assert 2 <= finished < len(files)
    assert first["end_reason"] == ("running" if how == signal.SIGKILL else "interrupted")
    second = harness_.run("ours", [*args, "--strict-exit"], cwd)
    assert second.rc == 0, second.stderr
    doc = summarycheck.check(cwd / "s.json", cwd, exhaustive=False)
    assert doc["totals"]["requests_skipped"] == finished and doc["end_reason"] == "completed"
    assert [r["outcome"] for r in doc["requests"]] == ["success"] * len(files)
    stored = [o["path"] for r in doc["requests"] for o in r["objects"]]
    assert len(stored) == (len(files) - finished) * PER_PATIENT
    finals = [n for n in os.listdir(cwd / "out") if not n.startswith(".")]
    assert len(finals) == len(PATIENTS) * PER_PATIENT  # every object on disk once
    # a third run has nothing left to do
    third = harness_.run("ours", [*args, "--strict-exit"], cwd)
    assert third.rc == 0 and json.loads((cwd / "s.json").read_text())["totals"]["requests_skipped"] == len(files)


def test_recorder_batch_bookkeeping(tmp_path: Path) -> None:
    """Retries before the first association, a retried request's record
    reused, skipped requests, the request order and the state of the
    association when one of several failed."""
    from dcmretrieve.scu.summary import Recorder

    rec = Recorder(Settings("getscu", peer="127.0.0.1", port=104, summary_json=str(tmp_path / "s.json"),
                            output_directory=str(tmp_path)))
    rec.association_failed()
    rec.retrying(1, 1, "association refused (TCP)", 0.5)  # before any record exists
    rec.association_accepted()
    rec.skipped("a.dcm", 1, 0, "sha256:a")
    rec.begin_request("b.dcm", 1, 1, "sha256:b")
    rec.request_error("0006:0317 Peer aborted Association (or never connected)")
    rec.retrying(1, 2, "association aborted or lost", 1.0)
    rec.begin_request("b.dcm", 1, 1, "sha256:b")
    rec.final_response(0x0000, lambda name: 0)
    rec.association_failed()  # another association failed: the state stays accepted
    doc = rec.document(0, 0, None)
    assert doc["end_reason"] == "running" and doc["association"] == "accepted"
    a, b = doc["requests"]
    assert (a["skipped"], a["outcome"], b["outcome"]) == (True, "success", "success")
    assert [r["attempt"] for r in b["retries"]] == [1, 2]
    assert b["retries"][1]["error"].startswith("0006:0317") and b["error"] is None
    assert doc["totals"]["retries"] == 2 and doc["totals"]["requests_skipped"] == 1
    rec.journal(force=True)
    assert json.loads((tmp_path / "s.json").read_text())["end_reason"] == "running"
