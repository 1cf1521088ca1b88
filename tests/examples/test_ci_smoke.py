"""examples/ci-smoke-test.sh against dcmqrscp: the CI recipe passes on a
complete study and fails (with the right status) on a short count, an
empty study and an unreachable peer, with getscu and with movescu."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from support import harness
from support import sampledata
from support import summarycheck
from support.ports import free_port

pytestmark = pytest.mark.network

SCRIPT = Path(__file__).resolve().parents[2] / "examples" / "ci-smoke-test.sh"


def smoke(tmp_path: Path, host: str, port: int, study: str, expected: int,
          **env: str) -> subprocess.CompletedProcess[str]:
    out = tmp_path / "out"
    out.mkdir()
    tool = env.get("TOOL", "getscu")
    environment = harness.environment(extra={"CALLED_AE": "COMMON", "OUTPUT_DIR": str(out),
                                             "RETRIEVE": harness.our_script(tool), **env})
    done = subprocess.run(["sh", str(SCRIPT), host, str(port), study, str(expected)], cwd=tmp_path,
                          env=environment, capture_output=True, text=True, timeout=120)
    # every run writes a summary, whatever the outcome
    doc = summarycheck.check(out / "summary.json", tmp_path)
    assert doc["strict_exit"] and doc["exit_status"] == (done.returncode if done.returncode != 3 else 0)
    return done


def test_complete_study_passes(qrscp, tmp_path: Path) -> None:
    done = smoke(tmp_path, qrscp.host, qrscp.port, sampledata.CT.study_instance_uid, 1)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("smoke test: getscu exit status 0, 1 of 1 objects stored in ")
    doc = summarycheck.check(tmp_path / "out" / "summary.json", tmp_path)
    assert doc["totals"]["objects_stored"] == 1


def test_short_count_fails_with_3(qrscp, tmp_path: Path) -> None:
    done = smoke(tmp_path, qrscp.host, qrscp.port, sampledata.CT.study_instance_uid, 2)
    assert done.returncode == 3
    assert done.stderr.endswith("smoke test: expected 2 objects, got 1\n")


def test_empty_study_fails_with_69(qrscp, tmp_path: Path) -> None:
    done = smoke(tmp_path, qrscp.host, qrscp.port, "1.2.3.4.5.6.7.8.9", 0)
    assert done.returncode == 69  # even when 0 objects were "expected": nothing retrieved fails


def test_unreachable_peer_fails_with_61(tmp_path: Path) -> None:
    done = smoke(tmp_path, "127.0.0.1", free_port(), sampledata.CT.study_instance_uid, 1)
    assert done.returncode == 61


def test_movescu_to_itself(qrscp, tmp_path: Path) -> None:
    done = smoke(tmp_path, qrscp.host, qrscp.port, sampledata.MR.study_instance_uid, 1, TOOL="movescu",
                 MOVE_PORT=str(qrscp.host_table["MOVESCU"]))
    assert done.returncode == 0, done.stderr


def test_usage(tmp_path: Path) -> None:
    done = subprocess.run(["sh", str(SCRIPT), "host"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 2 and "usage:" in done.stderr


def test_default_output_directory_is_a_new_temporary_one(qrscp, tmp_path: Path) -> None:
    environment = harness.environment(extra={"CALLED_AE": "COMMON", "TMPDIR": str(tmp_path),
                                             "RETRIEVE": harness.our_script("getscu")})
    done = subprocess.run(["sh", str(SCRIPT), qrscp.host, str(qrscp.port), sampledata.CT.study_instance_uid, "1"],
                          cwd=tmp_path, env=environment, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    (out,) = tmp_path.glob("ci-smoke.*")
    summarycheck.check(out / "summary.json", tmp_path)
    assert done.stdout.rstrip("\n").endswith(f"objects stored in {out}")
