"""Normal mode keeps memory flat for big objects (getscu and movescu).

fakeqr streams a generated object (``big_size`` bytes of pixel data, a
sparse file on its side) and the peak RSS of our process (``wait4``'s
``ru_maxrss`` of that very child) must stay far below the object's size:
above ``StorePipeline``'s spool threshold a received data set goes to a
temporary file in the output directory and is written piece by piece.
The written file must be complete and equal to what the in-memory path
writes (tests/store/test_spool.py checks the bytes for every option).
+B is covered in test_getscu_net.py (``test_big_object_bit_preserving_flat_memory``).
"""

from __future__ import annotations

import os
import signal
import struct
import subprocess
from pathlib import Path

import pytest

from support import harness
from support.ports import free_port

pytestmark = pytest.mark.network

GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
MOVE = harness.Harness("movescu", ours="script", timeout=120.0, scrub=())
PAT = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=BIG"]
SIZE = 200 * 1000 * 1000
#: the interpreter with pydicom and numpy is ~40-60 MiB; the object is 191 MiB
BOUND_KIB = 80 * 1024


TIME = "/usr/bin/time"


def run_measured(argv: list[str], env: dict[str, str], cwd: Path, timeout: float) -> tuple[int, str, int]:
    """Run ``argv``; (exit status, stderr, peak RSS in KiB of that very process).

    Measured by ``/usr/bin/time`` (GNU time forks the tool from its own small
    process): the ``ru_maxrss`` a test would get from ``wait4`` on a child it
    spawned itself also holds the peak of the spawning pytest process, which
    Linux carries over through fork and exec."""
    if not os.access(TIME, os.X_OK):
        pytest.skip(f"{TIME} not installed")
    cwd.mkdir(parents=True, exist_ok=True)
    rss_file = cwd.parent / f".{cwd.name}.rss"
    # its own session: on a timeout the tool goes too, not only time
    proc = subprocess.Popen([TIME, "-f", "%M", "-o", str(rss_file), *argv], cwd=cwd, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        _out, err = proc.communicate(timeout=timeout)
        rss_kib = int(rss_file.read_text().split()[-1])
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise AssertionError(f"{argv[0]} did not finish in {timeout} s") from None
    finally:
        rss_file.unlink(missing_ok=True)
    return proc.returncode, err.decode(errors="replace"), rss_kib


def _check_file(od: Path, pixel_bytes: int, big_endian: bool = False) -> None:
    """One complete file, no temporary or spool file, ending with the
    generated object's pixel data (zeros) and its full length."""
    (path,) = list(od.iterdir())
    assert not path.name.startswith("."), path.name
    size = path.stat().st_size
    assert size > pixel_bytes
    with open(path, "rb") as f:
        f.seek(size - pixel_bytes - 12)
        header = f.read(12)
        f.seek(size - 4096)
        assert f.read() == bytes(4096)
    order = ">" if big_endian else "<"
    if header[4:6] == b"OW":  # explicit VR: tag, OW, 2 reserved bytes, length
        tag, length = struct.unpack(order + "HH", header[:4]), struct.unpack(order + "I", header[8:])[0]
    else:  # implicit VR: tag, length
        tag, length = struct.unpack(order + "HH", header[4:8]), struct.unpack(order + "I", header[8:])[0]
    assert (tag, length) == ((0x7FE0, 0x0010), pixel_bytes), header


def _pixel_bytes(size: int) -> int:
    frame = 512 * 512 * 2
    return -(-size // frame) * frame


def test_getscu_normal_mode_flat_memory(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(big_size=SIZE)
    od = tmp_path / "run" / "od"
    od.mkdir(parents=True)
    rc, err, rss_kib = run_measured([*GET.argv("ours"), "-od", "od", server.host, str(server.port), *PAT],
                                    GET.env(), tmp_path / "run", 120)
    assert rc == 0, err
    print(f"getscu normal: peak RSS {rss_kib} KiB for {SIZE} bytes")
    _check_file(od, _pixel_bytes(SIZE))
    assert rss_kib < BOUND_KIB, rss_kib


@pytest.mark.parametrize("options", [[], ["+tb"], ["+td"]], ids=["as-received", "big-endian", "deflated"])
def test_movescu_normal_mode_flat_memory(make_fakeqr, tmp_path: Path, options: list[str]) -> None:
    """movescu (its own storage SCP as the destination) in normal mode, also
    converting to Big Endian (every value byte-swapped in pieces) and to
    Deflated (compressed in pieces)."""
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port}, big_size=SIZE)
    od = tmp_path / "run" / "od"
    od.mkdir(parents=True)
    rc, err, rss_kib = run_measured([*MOVE.argv("ours"), *options, "-od", "od", "--port", str(port),
                                     server.host, str(server.port), *PAT], MOVE.env(), tmp_path / "run", 180)
    assert rc == 0, err
    print(f"movescu normal {options}: peak RSS {rss_kib} KiB for {SIZE} bytes")
    if options == ["+td"]:
        (path,) = list(od.iterdir())
        assert not path.name.startswith(".") and 1000 < path.stat().st_size < SIZE // 100
    else:
        _check_file(od, _pixel_bytes(SIZE), big_endian=options == ["+tb"])
    assert rss_kib < BOUND_KIB, rss_kib


# --------------------------------------------- the big path against DCMTK --

#: above the spool threshold (4 MiB), small enough for DCMTK's in-memory receive
MID_SIZE = 6 * 1000 * 1000


@pytest.mark.dcmtk
@pytest.mark.parametrize("options", [[], ["+tb"], ["+ti"], ["+td"], ["+td", "+cl", "0"], ["-e", "+g"], ["-g"],
                                     ["+p", "16", "8"], ["-u", "+ti"], ["-F"]], ids=lambda o: " ".join(o) or "default")
def test_movescu_spooled_object_byte_identical(make_fakeqr, tmp_path: Path, options: list[str]) -> None:
    """A spooled object (above the threshold) is written exactly as DCMTK writes it."""
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port}, big_size=MID_SIZE)
    args = [*options, "-od", "out", "--port", str(port), server.host, str(server.port), *PAT]
    results = MOVE.run_both(args, tmp_path, prepare=lambda work: (work / "out").mkdir())
    harness.assert_same(*results, files="out", recursive=False)
    assert len(results.ours.files("out", recursive=False)) == 1


@pytest.mark.dcmtk
def test_getscu_spooled_object_byte_identical(make_fakeqr, tmp_path: Path) -> None:
    server = make_fakeqr(big_size=MID_SIZE)
    args = ["-od", "out", server.host, str(server.port), *PAT]
    results = GET.run_both(args, tmp_path, prepare=lambda work: (work / "out").mkdir())
    harness.assert_same(*results, files="out", recursive=False)
    assert len(results.ours.files("out", recursive=False)) == 1


@pytest.mark.dcmtk("getscu", "movescu")
@pytest.mark.parametrize("tool", ["getscu", "movescu"])
def test_disk_full_while_spooling(make_fakeqr, tmp_path: Path, tool: str) -> None:
    """Normal mode, an object above the spool threshold, the output file
    system full (512 KiB tmpfs): the spool fails, the object is received in
    memory after all and fails at the write as DCMTK's does (same transcript,
    nothing left behind; test_disk_full.py has the small-object cases)."""
    from .test_disk_full import TOOLS, _mount_tmpfs, _unmount

    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    port = free_port()
    server = make_fakeqr(destinations={"MOVESCU": port}, big_size=MID_SIZE)
    args = ["-v", "-aec", server.aetitle, "-od", "."]
    if tool == "movescu":
        args += ["--port", str(port)]
    args += [server.host, str(server.port), *PAT]
    mounted: list[Path] = []
    try:
        dcmtk, ours = TOOLS[tool].run_both(args, tmp_path, prepare=lambda cwd: _mount_tmpfs(cwd, mounted))
        harness.assert_same(dcmtk, ours, files=".")
        assert sorted(p.name for p in ours.cwd.iterdir()) == []
    finally:
        for path in mounted:
            _unmount(path)
    assert "E: cannot write DICOM file: " in ours.stderr
