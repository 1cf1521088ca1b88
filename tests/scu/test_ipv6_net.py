"""IPv6 as DCMTK 3.7.0 (-i4/-i6/-i0), end to end on ::1.

Why these peers: DCMTK 3.6.7 has no IPv6 at all (its tools scan the
presentation address with ``%[^:]:%d`` and resolve IPv4 only, dcmqrscp and
storescp listen on IPv4 only; checked below), so the IPv6 side is our
pynetdicom fakeqr on ::1.  The oracle is still DCMTK 3.6.7 where it can be:
the same retrieve over IPv4 by /usr/bin/getscu gives the transcript and the
files our -i6 run over ::1 must give, and a 3.6.7 command line naming ::1
fails exactly as DCMTK 3.6.7 fails.
"""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from support import harness
from support.ports import free_port
from support.sampledata import sample_path
from support.servers import listening_inodes

pytestmark = pytest.mark.network


def _has_ipv6_loopback() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as sock:
            sock.bind(("::1", 0))
    except OSError:
        return False
    return True


if not _has_ipv6_loopback():
    pytest.skip("this machine has no IPv6 loopback (::1 cannot be bound)", allow_module_level=True)

GET = harness.Harness("getscu", ours="module", timeout=120.0, errors="replace")
MOVE = harness.Harness("movescu", ours="script", timeout=60, scrub=())
PAT = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=*"]
#: movescu: the MR (DCMTK 3.6.7's movescu accepts no RT Plan Storage)
PAT_MR = ["-k", "QueryRetrieveLevel=PATIENT", "-k", "PatientID=4MR1"]


def _run(tool: harness.Harness, side: str, args: list[str], cwd: Path,
         env: dict[str, str] | None = None) -> harness.Result:
    cwd.mkdir(parents=True, exist_ok=True)
    (cwd / "out").mkdir(exist_ok=True)
    return tool.run(side, args, cwd, env=env)


def _resolves(name: str, family: socket.AddressFamily) -> bool:
    try:
        return bool(socket.getaddrinfo(name, None, family))
    except OSError:
        return False


# ---------------------------------------------------------------------------
# what DCMTK 3.6.7 can and cannot do (the reason fakeqr is the IPv6 peer)


@pytest.mark.dcmtk
def test_dcmtk_367_peers_listen_on_ipv4_only(qrscp, storescp):
    for server in (qrscp, storescp):
        listeners = listening_inodes(server.port)
        assert listeners, server
        ipv6 = Path("/proc/net/tcp6").read_text().split()
        assert not listeners & set(ipv6), f"{server} listens on IPv6"


@pytest.mark.dcmtk
@pytest.mark.parametrize("tool", [GET, MOVE], ids=["getscu", "movescu"])
def test_a_367_command_line_naming_ipv6_fails_as_dcmtk_367(tool, tmp_path):
    """No -i option: DCMTK 3.6.7's ``%[^:]:%d`` scan, "Illegal service
    parameter" for an IPv6 address, the same exit code."""
    port = str(free_port())
    cases = ((["::1", port, *PAT], "Illegal service parameter: ::1:"),
             (["-v", "fe80::1", port, *PAT], "Illegal service parameter: fe80::1:"),
             (["[::1]", port, *PAT], "Illegal service parameter: [::1]:"))
    for number, (args, text) in enumerate(cases):
        results = tool.run_both(args, tmp_path / str(number))
        harness.assert_same(*results)
        assert text in results.ours.stderr


@pytest.mark.dcmtk
@pytest.mark.parametrize("tool", [GET, MOVE], ids=["getscu", "movescu"])
@pytest.mark.parametrize("option", ["-i4", "-i6", "-i0", "--ipv4", "--ipv6", "--ip-auto"])
def test_dcmtk_367_rejects_the_370_options(tool, option, tmp_path):
    """So no DCMTK 3.6.7 command line changes meaning by them."""
    dcmtk = _run(tool, "dcmtk", [option, "peer", "104", *PAT], tmp_path)
    assert dcmtk.rc == 1
    assert dcmtk.stderr.endswith(f"error: Unknown option {option}\n")


@pytest.mark.dcmtk
def test_dcmtk_367_storescu_cannot_send_over_ipv6(tmp_path):
    """So movescu's IPv6 listener gets its sub-associations from fakeqr."""
    harness.require("/usr/bin/storescu")
    port = str(free_port())
    proc = harness.run(["/usr/bin/storescu", "::1", port, str(sample_path("CT_small.dcm"))], tmp_path,
                       env=harness.environment(), timeout=30)
    assert proc.rc != 0
    assert f"Illegal service parameter: ::1:{port}" in proc.stderr, proc.stderr
    proc = harness.run(["/usr/bin/storescu", "--help"], tmp_path, env=harness.environment(), timeout=30)
    assert "--ipv6" not in proc.stdout and "-i6" not in proc.stdout


# ---------------------------------------------------------------------------
# getscu: the outgoing association


def test_getscu_ipv6_retrieves_what_dcmtk_retrieves_over_ipv4(make_fakeqr, tmp_path):
    """Same fakeqr data on 127.0.0.1 and on ::1: /usr/bin/getscu over IPv4 and
    ours with -i6 (and -i0) over ::1 print the same and write the same files."""
    harness.require("/usr/bin/getscu")
    v4 = make_fakeqr()
    v6 = make_fakeqr(host="::1")
    dcmtk = _run(GET, "dcmtk", ["-v", "-od", "out", "127.0.0.1", str(v4.port), *PAT], tmp_path / "dcmtk")
    assert dcmtk.rc == 0, dcmtk.stderr
    assert len(dcmtk.files("out")) == 3
    for option in ("-i6", "-i0", "--ipv6", "--ip-auto"):
        ours = _run(GET, "ours", ["-v", option, "-od", "out", "::1", str(v6.port), *PAT], tmp_path / option)
        assert (ours.rc, ours.stdout, ours.stderr) == (dcmtk.rc, dcmtk.stdout, dcmtk.stderr), option
        assert ours.files("out") == dcmtk.files("out"), option


def test_getscu_ipv4_address_is_used_with_every_family(make_fakeqr, tmp_path):
    """inet_addr() comes first in 3.7.0's requestAssociationTCP: an IPv4
    address connects over IPv4 even with -i6."""
    server = make_fakeqr()
    for option in ("-i4", "-i6", "-i0"):
        ours = _run(GET, "ours", ["-v", option, "-od", "out", "127.0.0.1", str(server.port), *PAT],
                    tmp_path / option)
        assert ours.rc == 0, ours.stderr
        assert len(ours.files("out")) == 3


def test_getscu_family_restricts_name_resolution(tmp_path):
    port = str(free_port())
    ours = _run(GET, "ours", ["-i4", "::1", port, *PAT], tmp_path / "i4")
    assert (ours.rc, ours.stderr) == (
        1, "F: Could not negotiate association: Attempt to connect to unknown host: ::1\n")
    if _resolves("localhost", socket.AF_INET6):
        pytest.skip("localhost has an IPv6 address here")
    ours = _run(GET, "ours", ["-i6", "localhost", port, *PAT], tmp_path / "i6")
    assert (ours.rc, ours.stderr) == (
        1, "F: Could not negotiate association: Attempt to connect to unknown host: localhost\n")


@pytest.mark.dcmtk
def test_dcmqrscp_367_is_not_reached_over_ipv6(qrscp, tmp_path):
    ours = _run(GET, "ours", ["-i6", "-aec", "COMMON", "::1", str(qrscp.port), *PAT], tmp_path)
    assert (ours.rc, ours.stderr) == (
        1, "F: Could not negotiate association: TCP Initialization Error: Connection refused\n")


# ---------------------------------------------------------------------------
# movescu: the main association and the +P listener


def _move(tmp_path: Path, name: str, options: list[str], peer: str, port: int, listen: int,
          env: dict[str, str] | None = None, repeat: int = 1) -> harness.Result:
    args = [*options, "-od", "out", "+P", str(listen), "--repeat", str(repeat), peer, str(port), *PAT_MR]
    return _run(MOVE, "ours", args, tmp_path / name, env)


def test_movescu_dual_stack_listener_takes_ipv4_and_ipv6(make_fakeqr, tmp_path):
    """-i0: one IPv6 socket with IPV6_V6ONLY off; fakeqr sends the first
    C-MOVE's sub-association from 127.0.0.1 (it arrives v4-mapped) and the
    second from ::1."""
    listen = free_port()
    server = make_fakeqr(host="::1", destinations={"MOVESCU": listen}, dest_hosts=["127.0.0.1", "::1"])
    ours = _move(tmp_path, "i0", ["-d", "-dhl", "-i0"], "::1", server.port, listen, repeat=2)
    assert ours.rc == 0, ours.stderr
    received = [line for line in ours.stderr.splitlines() if "Association Received" in line]
    assert received == ["D: Association Received: ::ffff:127.0.0.1", "I: Sub-Association Received",
                        "D: Association Received: ::1", "I: Sub-Association Received"]
    assert len(ours.files("out")) == 1


@pytest.mark.parametrize("option, wrong_host", [("-i6", "127.0.0.1"), ("-i4", "::1")])
def test_movescu_single_family_listener_refuses_the_other(make_fakeqr, tmp_path, option, wrong_host):
    """-i6: IPv6 only (IPV6_V6ONLY on); -i4: IPv4 only.  A sub-association
    of the other family is refused, fakeqr answers 0xA801."""
    listen = free_port()
    server_host = "::1" if option == "-i6" else "127.0.0.1"
    right = make_fakeqr(host=server_host, destinations={"MOVESCU": listen}, dest_hosts=[server_host])
    ok = _move(tmp_path, "right", ["-v", option], server_host, right.port, listen)
    assert ok.rc == 0, ok.stderr
    assert len(ok.files("out")) == 1
    wrong = make_fakeqr(host=server_host, destinations={"MOVESCU": listen}, dest_hosts=[wrong_host])
    refused = _move(tmp_path, "wrong", ["-v", option], server_host, wrong.port, listen)
    assert "Sub-Association Received" not in refused.stderr
    assert "W: Move response with error status (Refused: MoveDestinationUnknown)\n" in refused.stderr
    assert refused.files("out") == {}
    assert "C-MOVE-RSP status 0xA801" in wrong.log_text()


def test_movescu_access_control_on_ipv6_peers(make_fakeqr, tmp_path):
    """+ac: libwrap's [addr] pattern matches the IPv6 peer; the denial text
    carries the numeric IPv6 address."""
    allow, deny = tmp_path / "hosts.allow", tmp_path / "hosts.deny"
    allow.write_text("# nothing\n")
    deny.write_text("movescu: [::1]\n")
    env = {"DCMRETRIEVE_HOSTS_ALLOW": str(allow), "DCMRETRIEVE_HOSTS_DENY": str(deny)}
    listen = free_port()
    server = make_fakeqr(host="::1", destinations={"MOVESCU": listen}, dest_hosts=["::1"])
    denied = _move(tmp_path, "denied", ["-v", "+ac", "-dhl", "-i6"], "::1", server.port, listen, env)
    assert "E: 0006:0324 TCP wrapper: denied connection from unknown (::1)\n" in denied.stderr
    assert denied.files("out") == {}
    allow.write_text("movescu: [::1]/128\n")
    allowed = _move(tmp_path, "allowed", ["-v", "+ac", "-dhl", "-i6"], "::1", server.port, listen, env)
    assert allowed.rc == 0, allowed.stderr
    assert len(allowed.files("out")) == 1


def test_movescu_family_errors_and_exit_codes(tmp_path):
    port = free_port()
    ours = _run(MOVE, "ours", ["-i4", "::1", str(port), *PAT], tmp_path / "unknown")
    assert (ours.rc, ours.stderr) == (
        61, "F: Association Request Failed:\nF: 0006:0320 Attempt to connect to unknown host: ::1\n")
    ours = _run(MOVE, "ours", ["-i6", "::1", str(port), *PAT], tmp_path / "refused")
    assert (ours.rc, ours.stderr) == (
        61, "F: Association Request Failed:\nF: 0006:031c TCP Initialization Error: Connection refused\n")
    with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as busy:
        busy.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        busy.bind(("::", 0))
        busy.listen(1)
        taken = busy.getsockname()[1]
        ours = _run(MOVE, "ours", ["-i6", "+P", str(taken), "::1", str(port), *PAT], tmp_path / "busy")
    assert (ours.rc, ours.stderr) == (
        60, "F: cannot create network: 0006:031c TCP Initialization Error: Address already in use\n")


# ---------------------------------------------------------------------------
# how the peer of a sub-association is named (both releases: getnameinfo)


@pytest.mark.dcmtk
def test_unnamed_ipv4_peer_is_shown_as_dcmtk_367_shows_it(make_fakeqr, tmp_path):
    """A sub-association from 127.0.0.2 (no name): getnameinfo() gives the
    numeric address and DCMTK shows it up to its first dot
    ("Association Received: 127"); the TCP wrapper gets the whole of it.
    Differential against /usr/bin/movescu."""
    harness.require("/usr/bin/movescu")
    if socket.getnameinfo(("127.0.0.2", 0), 0)[0] != "127.0.0.2":
        pytest.skip("127.0.0.2 has a name here")
    listen = free_port()
    server = make_fakeqr(destinations={"MOVESCU": listen}, extra_args=["--dest-bind", "127.0.0.2"])
    args = ["-d", "-od", "out", "+P", str(listen), "127.0.0.1", str(server.port), *PAT_MR]
    lines = {}
    for side in ("dcmtk", "ours"):
        result = _run(MOVE, side, args, tmp_path / side)
        assert result.rc == 0, result.stderr
        lines[side] = [line for line in result.stderr.splitlines() if "Association Received" in line]
    assert lines["ours"] == lines["dcmtk"] == ["D: Association Received: 127", "I: Sub-Association Received"]
    allow, deny = tmp_path / "hosts.allow", tmp_path / "hosts.deny"
    allow.write_text("")
    deny.write_text("movescu: 127.0.0.2\n")
    env = {"DCMRETRIEVE_HOSTS_ALLOW": str(allow), "DCMRETRIEVE_HOSTS_DENY": str(deny)}
    denied = _run(MOVE, "ours", ["-v", "+ac", *args[1:]], tmp_path / "denied", env)
    assert "E: 0006:0324 TCP wrapper: denied connection from 127.0.0.2 (127.0.0.2)\n" in denied.stderr
