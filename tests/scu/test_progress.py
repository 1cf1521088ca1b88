"""--progress: what a person sees on a terminal, and nothing when there is none.

The tools run with their standard streams on a real pseudo-terminal (the
``pty`` module); what they write is rendered by a small VT100 interpreter
(``render``: carriage return, line feed, overwrite, erase in line) into the
lines a person would see.  Every log line must be there whole, in order,
exactly as the run without --progress prints it, and the display's last
state must be on the last line (request i/n, objects done/expected).  With
standard error not a terminal, --progress must change nothing (the
differential tests' byte-for-byte judge).
"""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from support import harness

GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
MOVE = harness.Harness("movescu", ours="script", timeout=120.0, scrub=())
COLUMNS = 120


def run_in_pty(argv: list[str], cwd: Path, env: dict[str, str], timeout: float = 60.0) -> tuple[int, bytes]:
    """Run ``argv`` with stdin, stdout and stderr on a new pseudo-terminal of
    COLUMNS columns; (exit status, every byte the terminal received)."""
    import fcntl
    import struct
    import termios

    cwd.mkdir(parents=True, exist_ok=True)
    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, COLUMNS, 0, 0))
    env = dict(env, COLUMNS=str(COLUMNS), TERM="xterm")
    proc = subprocess.Popen(argv, cwd=cwd, env=env, stdin=slave, stdout=slave, stderr=slave,
                            start_new_session=True)
    os.close(slave)
    out = bytearray()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([master], [], [], 0.2)
            if ready:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: the last holder of the terminal closed it
                    break
                if not data:
                    break
                out += data
            elif proc.poll() is not None:
                break
        else:
            raise AssertionError(f"{argv[0]} did not finish in {timeout} s")
        return proc.wait(timeout=10), bytes(out)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.wait()
        os.close(master)


def render(raw: bytes) -> list[str]:
    """The screen's lines (scrolled-off ones kept) after ``raw``: a minimal
    VT100 (CR, LF, printable characters overwrite, CSI K erases to the end
    of the line, CSI A moves up; other CSI sequences are dropped)."""
    text = raw.decode("utf-8", "replace")
    lines: list[list[str]] = [[]]
    row = col = 0
    i = 0
    while i < len(text):
        c = text[i]
        if c == "\r":
            col = 0
        elif c == "\n":
            row += 1
            if row == len(lines):
                lines.append([])
        elif c == "\x1b":
            m = re.compile(r"\x1b\[([0-9;]*)([A-Za-z])").match(text, i)
            if m:
                if m.group(2) == "K":
                    del lines[row][col:]
                elif m.group(2) == "A":
                    row = max(0, row - int(m.group(1) or 1))
                i = m.end()
                continue
        elif c >= " ":
            line = lines[row]
            line.extend(" " * (col - len(line)))
            if col < len(line):
                line[col] = c
            else:
                line.append(c)
            col += 1
        i += 1
    screen = ["".join(line).rstrip() for line in lines]
    while screen and not screen[-1]:
        screen.pop()
    return screen


BAR = re.compile(r"^request (\d+)/(\d+): (\d+)/(\d+) objects, [\d.]+ (B|KiB|MiB), [\d.]+ (B|KiB|MiB)/s "
                 r"\|█+\| \[\d\d:\d\d<")


def _query_file(path: Path, patient_id: str) -> None:
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.uid import ExplicitVRLittleEndian

    ds = Dataset()
    ds.QueryRetrieveLevel = "PATIENT"
    ds.PatientID = patient_id
    ds.file_meta = FileMetaDataset()
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.file_meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.2.1.2"  # the Move model (a query file)
    ds.file_meta.MediaStorageSOPInstanceUID = "1.2.3.4"
    ds.save_as(path, enforce_file_format=True)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _check_screen(screen: list[str], plain: list[str], requests: int, objects: int) -> None:
    """Every line of the plain run, whole and in order, then the final display."""
    assert screen[:-1] == plain, "\n".join(screen)
    m = BAR.match(screen[-1])
    assert m, screen[-1]
    assert m.groups()[:4] == (str(requests), str(requests), str(objects), str(objects))


@pytest.mark.network
def test_getscu_progress_in_a_terminal(tmp_path: Path, qrscp) -> None:  # type: ignore[no-untyped-def]
    args = ["-v", "-aec", "COMMON", qrscp.host, str(qrscp.port), "-k", "QueryRetrieveLevel=PATIENT",
            "-k", "PatientID=", "-od", "od"]
    (tmp_path / "plain" / "od").mkdir(parents=True)
    (tmp_path / "tty" / "od").mkdir(parents=True)
    plain = GET.run("ours", args, tmp_path / "plain")
    rc, raw = run_in_pty([*GET.argv("ours"), "--progress", *args], tmp_path / "tty", GET.env())
    assert rc == plain.rc == 0
    screen = render(raw)
    _check_screen(screen, plain.stderr.splitlines(), 1, 3)
    # the display was redrawn in place (carriage returns), never mid-way into a log line
    assert raw.count(b"\rrequest 1/1: ") > 3
    for line in plain.stderr.splitlines():  # the display's line cleared, then the whole log line
        assert f"\r{line}\r\n".encode() in raw, line
    assert _files(tmp_path / "tty" / "od") == _files(tmp_path / "plain" / "od")


def _two_movescu_requests_in_pty(tmp_path: Path, qrscp, query_files,  # type: ignore[no-untyped-def]
                                 extra: tuple[str, ...] = ()) -> tuple[list[str], bytes]:
    """movescu -v with two query files (CT and MR, ``extra`` options), once
    plain and once with --progress, both in a pseudo-terminal (stdout and
    stderr interleave as a person sees them): the rendered plain screen and
    the raw --progress output; both succeed and write the same files."""
    mr = tmp_path / "pat_mr.dcm"
    _query_file(mr, "4MR1")
    args = ["-v", *extra, "-aec", "COMMON", "--port", str(qrscp.host_table["MOVESCU"]), qrscp.host,
            str(qrscp.port), str(query_files["pat_ct"]), str(mr), "-od", "od"]
    (tmp_path / "plain" / "od").mkdir(parents=True)
    (tmp_path / "tty" / "od").mkdir(parents=True)
    rc_plain, raw_plain = run_in_pty([*MOVE.argv("ours"), *args], tmp_path / "plain", MOVE.env())
    rc, raw = run_in_pty([*MOVE.argv("ours"), "--progress", *args], tmp_path / "tty", MOVE.env())
    assert rc == rc_plain == 0
    assert _files(tmp_path / "tty" / "od") == _files(tmp_path / "plain" / "od")
    return render(raw_plain), raw


@pytest.mark.network
def test_movescu_progress_two_requests_with_recv_lines(tmp_path: Path, qrscp, query_files) -> None:  # type: ignore[no-untyped-def]
    """movescu -v prints ``RECV: ...`` on stdout (the same terminal): each
    goes out as one whole line above the display; two requests (two query files)."""
    plain, raw = _two_movescu_requests_in_pty(tmp_path, qrscp, query_files)
    assert plain.count("RECV: ...") == 1 and plain.count("RECV: .") == 1
    _check_screen(render(raw), plain, 2, 2)


@pytest.mark.network
def test_movescu_progress_with_parallel_requests(tmp_path: Path, qrscp, query_files) -> None:  # type: ignore[no-untyped-def]
    """--parallel 2: two requests at once share one display; every log and
    RECV line still reaches the terminal whole (their order between the two
    requests is free), and the display ends at 2/2 requests, 2/2 objects."""
    plain, raw = _two_movescu_requests_in_pty(tmp_path, qrscp, query_files, ("--parallel", "2"))
    screen = render(raw)

    def lines(rendered: list[str]) -> list[str]:  # which request gets which message ID is free too
        return sorted(re.sub(r"MsgID \d+", "MsgID n", line) for line in rendered)

    assert lines(screen[:-1]) == lines(plain), "\n".join(screen)
    m = BAR.match(screen[-1])
    assert m, screen[-1]
    assert m.groups()[:4] == ("2", "2", "2", "2")


@pytest.mark.network
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_progress_without_a_terminal_changes_nothing(tmp_path: Path, qrscp, query_files, tool: str) -> None:  # type: ignore[no-untyped-def]
    if tool == "getscu":
        h, args = GET, ["-v", "-aec", "COMMON", qrscp.host, str(qrscp.port), "-k", "QueryRetrieveLevel=PATIENT",
                        "-k", "PatientID=", "-od", "od"]
    else:
        h, args = MOVE, ["-v", "-aec", "COMMON", "--port", str(qrscp.host_table["MOVESCU"]), qrscp.host,
                         str(qrscp.port), str(query_files["pat_all"]), "-od", "od"]
    (tmp_path / "plain" / "od").mkdir(parents=True)
    (tmp_path / "progress" / "od").mkdir(parents=True)
    plain = h.run("ours", args, tmp_path / "plain")
    progress = h.run("ours", ["--progress", *args], tmp_path / "progress")
    harness.assert_same(plain, progress, files="od")


class _Rsp:
    def __init__(self, remaining, completed, failed=0, warning=0) -> None:  # type: ignore[no-untyped-def]
        self.counts = {"remaining": remaining, "completed": completed, "failed": failed, "warning": warning}

    def counter(self, name: str):  # type: ignore[no-untyped-def]
        return self.counts[name]


def test_counts_over_requests_and_moves_to_another_ae() -> None:
    """Objects done: what arrived here or what the counters say, whichever
    is higher (a C-MOVE to another AE receives nothing); summed over requests."""
    from dcmretrieve.scu import progress

    master, slave = pty.openpty()
    stream = open(slave, "w", encoding="utf-8", closefd=True)
    try:
        display = progress.create(2, stream)
        assert display is not None
        display.begin_request()
        display.response(_Rsp(4, 1))
        assert (display.bar.n, display.bar.total) == (1, 5)
        display.object_done()
        display.object_done()
        assert display.bar.n == 2  # two arrived, the counters said one
        display.response(_Rsp(0, 4, 1))
        assert (display.bar.n, display.bar.total) == (5, 5)
        display.begin_request()  # e.g. a move to a third AE: only counters
        display.response(_Rsp(2, 1, 0, 1))
        assert (display.bar.n, display.bar.total) == (7, 9)
        assert display.bar.desc == "request 2/2"
        display.bytes_in(2048)
        display.close()
        from dcmretrieve import oflog

        assert oflog.console_guard() is None
    finally:
        stream.close()
        os.close(master)


def test_no_terminal_no_display() -> None:
    import io

    from dcmretrieve.scu import progress

    assert progress.create(1, io.StringIO()) is None
    with open(os.devnull, "w") as null:
        assert progress.create(1, null) is None


@pytest.mark.network
def test_display_after_a_peer_abort(tmp_path: Path, make_fakeqr) -> None:  # type: ignore[no-untyped-def]
    """fakeqr aborts in the middle of an object (ABORTMID): every error line
    whole, the display shows what was reached and stays on its own line."""
    server = make_fakeqr(extra_args=["--abortmid-size", str(1024 * 1024)])
    args = ["-v", server.host, str(server.port), "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=ABORTMID",
            "-od", "od"]
    (tmp_path / "plain" / "od").mkdir(parents=True)
    (tmp_path / "tty" / "od").mkdir(parents=True)
    plain = GET.run("ours", args, tmp_path / "plain")
    rc, raw = run_in_pty([*GET.argv("ours"), "--progress", *args], tmp_path / "tty", GET.env())
    assert rc == plain.rc == 1
    screen = render(raw)
    (at,) = [i for i, line in enumerate(screen) if line.startswith("request ")]
    assert screen[:at] + screen[at + 1:] == plain.stderr.splitlines()
    # no response with counters came; the cut-off object counts as finished (not stored)
    assert re.match(r"request 1/1: 1/\? objects, [\d.]+ KiB, ", screen[at]), screen[at]
    # getscu logs its errors while the display is on (above it) and exits without an F: line
    assert at == len(screen) - 1
    assert list((tmp_path / "tty" / "od").iterdir()) == []


def test_fatal_line_follows_the_display(tmp_path: Path) -> None:
    """Nothing listens: the F: line is written after the display was closed,
    on the line below its final state."""
    from support.ports import free_port

    args = ["-v", "127.0.0.1", str(free_port()), "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1"]
    plain = GET.run("ours", args, tmp_path / "plain")
    rc, raw = run_in_pty([*GET.argv("ours"), "--progress", *args], tmp_path / "tty", GET.env())
    assert rc == plain.rc == 1
    lines = plain.stderr.splitlines()
    assert lines[-1].startswith("F: Could not negotiate association")
    screen = render(raw)
    assert screen[:-2] == lines[:-1] and screen[-1] == lines[-1]
    assert re.match(r"request 1/1: 0/\? objects, 0 B, ", screen[-2]), screen[-2]


@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_progress_module_is_imported_only_with_the_option(tmp_path: Path, tool: str) -> None:
    """Without --progress our display module is never loaded (``-X
    importtime`` lists every module imported).  tqdm itself is not checked:
    pydicom imports it on its own whenever it is installed
    (``pydicom.data.download``, docs/progress.md)."""
    import sys

    from support.ports import free_port

    args = ["127.0.0.1", str(free_port()), "-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=1"]
    for extra in ([], ["--progress"]):
        run = harness.run([sys.executable, "-X", "importtime", "-m", f"dcmretrieve.{tool}", *extra, *args],
                          tmp_path, env=GET.env(), timeout=60)
        assert "dcmretrieve.scu.common" in run.stderr  # the network part was reached
        assert ("dcmretrieve.scu.progress" in run.stderr) == bool(extra)


@pytest.mark.network
def test_getscu_progress_against_orthanc(tmp_path: Path, make_orthanc) -> None:  # type: ignore[no-untyped-def]
    server = make_orthanc()
    args = ["-v", "-aec", server.aetitle, server.host, str(server.port), "-k", "QueryRetrieveLevel=PATIENT",
            "-k", "PatientID=4MR1", "-od", "od"]
    (tmp_path / "plain" / "od").mkdir(parents=True)
    (tmp_path / "tty" / "od").mkdir(parents=True)
    plain = GET.run("ours", args, tmp_path / "plain")
    rc, raw = run_in_pty([*GET.argv("ours"), "--progress", *args], tmp_path / "tty", GET.env())
    assert rc == plain.rc == 0
    _check_screen(render(raw), plain.stderr.splitlines(), 1, 1)
    assert _files(tmp_path / "tty" / "od") == _files(tmp_path / "plain" / "od")
