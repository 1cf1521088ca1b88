"""Unit tests of the shared association layer (no external servers).

The A-ASSOCIATE-RQ we build is decoded with pynetdicom's own PDU classes (an
independent implementation of PS3.8), and a requestor talks to our own
acceptor over a loopback socket, which exercises both halves, DIMSE
fragmentation, release and abort.
"""

from __future__ import annotations

import random
import socket
import struct
import threading
import time

import pytest
from pynetdicom.pdu import A_ASSOCIATE_RQ

from dcmretrieve.net import transport
from dcmretrieve.net.conditions import AssociationError, AssociationFailure, COND_REJECTED, DimseError
from dcmretrieve.net.dimse import C_GET_RQ, C_GET_RSP, C_STORE_RQ, Command, NO_DATASET, c_get_rq, c_store_rsp
from dcmretrieve.net.dumps import dump_associate_ac
from dcmretrieve.net.params import AssociationParams, preference_negotiator, tcp_nodelay_default, truncate_ae
from dcmretrieve.net.pdu import encode_associate_rq
from dcmretrieve.scu.policy import acceptor_ts_list, getscu_contexts, query_ts_list, storage_ts_list
from dcmretrieve.net.status import StatusClass, dimse_status_text, status_class, store_status_text
from dcmretrieve.net.transport import Association, acse_seconds, c_int, dimse_wait, poll_wait, select_wait
from dcmretrieve.dicom.uids import DEFLATED_LE, EXPLICIT_BE, EXPLICIT_LE, IMPLEMENTATION_CLASS_UID, IMPLICIT_LE
from dcmretrieve.dicom import sopclasses


def test_getscu_contexts_like_dcmtk() -> None:
    contexts = getscu_contexts("patient", "propose-uncompr", "prefer-uncompr")
    assert len(contexts) == 121
    assert [c.id for c in contexts] == list(range(1, 242, 2))
    assert contexts[0].abstract_syntax == "1.2.840.10008.5.1.4.1.2.1.3"
    assert (contexts[0].scu_role, contexts[0].scp_role) == (None, None)
    assert contexts[16].abstract_syntax == "1.2.840.10008.5.1.4.1.1.2" and contexts[16].id == 33
    assert all((c.scu_role, c.scp_role) == (False, True) for c in contexts[1:])
    assert [c.abstract_syntax for c in contexts[1:]] == [u for u, _ in sopclasses.GETSCU_PROPOSED_STORAGE]


@pytest.mark.parametrize("option,expected", [
    ("propose-uncompr", [EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]),
    ("propose-little", [EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]),
    ("propose-big", [EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE]),
    ("propose-deflated", [DEFLATED_LE, EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]),
    ("propose-implicit", [IMPLICIT_LE]),  # deviation #4 for getscu
])
def test_query_ts_lists(option: str, expected: list[str]) -> None:
    assert query_ts_list(option) == expected


@pytest.mark.parametrize("option,first", [
    ("prefer-lossless", "1.2.840.10008.1.2.4.70"), ("prefer-j2k-lossless", "1.2.840.10008.1.2.4.90"),
    ("prefer-mpeg2", "1.2.840.10008.1.2.4.100"), ("prefer-hevc10", "1.2.840.10008.1.2.4.108"),
    ("prefer-rle", "1.2.840.10008.1.2.5"), ("prefer-deflated", DEFLATED_LE),
])
def test_storage_ts_compressed_first(option: str, first: str) -> None:
    assert storage_ts_list(option) == [first, EXPLICIT_LE, EXPLICIT_BE, IMPLICIT_LE]
    assert storage_ts_list("implicit") == [IMPLICIT_LE]
    assert storage_ts_list("prefer-big") == [EXPLICIT_BE, EXPLICIT_LE, IMPLICIT_LE]
    assert len(acceptor_ts_list("accept-all")) == 21


def test_associate_rq_decodes_with_pynetdicom() -> None:
    params = AssociationParams("GETSCU", "COMMON", "127.0.0.1", 104, 16384,
                                 getscu_contexts("study", "propose-big", "prefer-lossless"))
    pdu = A_ASSOCIATE_RQ()
    pdu.decode(encode_associate_rq(params))
    assert pdu.calling_ae_title == "GETSCU" and pdu.called_ae_title == "COMMON"
    assert pdu.application_context_name == "1.2.840.10008.3.1.1.1"
    contexts = pdu.presentation_context
    assert [c.context_id for c in contexts] == list(range(1, 242, 2))
    assert contexts[0].abstract_syntax == "1.2.840.10008.5.1.4.1.2.2.3"
    assert contexts[1].transfer_syntax[0] == "1.2.840.10008.1.2.4.70"
    user = pdu.user_information
    assert user.maximum_length == 16384
    assert user.implementation_class_uid == IMPLEMENTATION_CLASS_UID
    assert user.implementation_version_name == "OFFIS_DCMTK_367"
    roles = user.role_selection
    assert len(roles) == 120 and all((r.scu_role, r.scp_role) == (0, 1) for r in roles.values())


def test_command_roundtrip_and_texts() -> None:
    cmd = Command(command_field=C_GET_RSP, message_id_being_responded_to=7,
                    affected_sop_class_uid="1.2.840.10008.5.1.4.1.2.1.3", status=0xFF00, remaining=2,
                    completed=1, failed=0, data_set_type=NO_DATASET)
    back = Command.decode(cmd.encode()[12:])
    assert back.command_field == C_GET_RSP and back.status == 0xFF00
    assert back.counter("remaining") == 2 and back.counter("warning") is None
    assert not back.has_dataset
    assert dimse_status_text(0xC123) == "Failed: UnableToProcess"
    assert dimse_status_text(0xFF01) == "Unknown Status: 0xff01"
    assert store_status_text(0xA701) == "Refused: OutOfResources"
    assert status_class(0xB000) is StatusClass.WARNING and status_class(0xFE00) is StatusClass.FAILURE
    assert truncate_ae("ABCDEFGHIJKLMNOPQRSTUV") == "ABCDEFGHIJKLMNOP"


@pytest.mark.parametrize("value,expected", [(None, True), ("0", False), ("1", True), ("", False)])
def test_tcp_nodelay_default(monkeypatch: pytest.MonkeyPatch, value: str | None, expected: bool) -> None:
    """Deviation #6: on unless TCP_NODELAY=0 (an empty value counts as 0 like atoi)."""
    if value is None:
        monkeypatch.delenv("TCP_NODELAY", raising=False)
    else:
        monkeypatch.setenv("TCP_NODELAY", value)
    assert tcp_nodelay_default() is expected


def _acceptor(listener: socket.socket, result: dict) -> None:  # type: ignore[type-arg]
    conn, _ = listener.accept()
    try:
        negotiate = preference_negotiator([u for u, _ in sopclasses.GETSCU_PROPOSED_STORAGE]
                                            + ["1.2.840.10008.5.1.4.1.2.1.3"], [IMPLICIT_LE])
        assoc = Association.accept(conn, "ACCEPTOR", 4096, 5, 5, negotiate)
        pc_id, cmd = assoc.receive_command()
        chunks: list[bytes] = []
        assoc.receive_dataset(pc_id, lambda c: chunks.append(bytes(c)))
        result["request"] = (pc_id, cmd.command_field, b"".join(chunks))
        store = Command(command_field=C_STORE_RQ, message_id=2, affected_sop_class_uid="1.2.840.10008.5.1.4.1.1.2",
                          affected_sop_instance_uid="1.2.3", priority=0)
        assoc.send_command(33, store, b"x" * 10000)
        _pc, rsp = assoc.receive_command()
        result["store_status"] = rsp.status
        try:
            assoc.receive_command()
        except DimseError as exc:
            result["end"] = exc.condition.code
            assoc.acknowledge_release()
    finally:
        listener.close()


def test_request_accept_exchange_release() -> None:
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    result: dict = {}  # type: ignore[type-arg]
    thread = threading.Thread(target=_acceptor, args=(listener, result), daemon=True)
    thread.start()
    params = AssociationParams("GETSCU", "ACCEPTOR", "127.0.0.1", listener.getsockname()[1], 16384,
                                 getscu_contexts("patient", "propose-uncompr", "prefer-uncompr"),
                                 acse_timeout=5, dimse_timeout=5)
    assoc = Association.request(params)
    assert assoc.max_send_pdv == 4096 - 12
    get_ctx = assoc.accepted_context("1.2.840.10008.5.1.4.1.2.1.3")
    assert get_ctx is not None and get_ctx.id == 1 and get_ctx.transfer_syntax == IMPLICIT_LE
    assert "Context ID:        33 (Accepted)" in dump_associate_ac(assoc)
    identifier = bytes(range(256)) * 40  # fragmented: larger than the peer's PDU
    assoc.send_command(1, c_get_rq(assoc.next_message_id(), get_ctx.abstract_syntax), identifier)
    pc_id, store = assoc.receive_command()
    assert (pc_id, store.command_field, store.affected_sop_instance_uid) == (33, C_STORE_RQ, "1.2.3")
    assert assoc.receive_dataset(pc_id, None) == 10000
    assoc.send_command(pc_id, c_store_rsp(store, 0))
    assoc.release()
    thread.join(5)
    assert result["request"] == (1, C_GET_RQ, identifier)
    assert result["store_status"] == 0
    assert result["end"] == 0x0319  # peer requested release
    assert assoc.next_message_id() == 2


def test_refused_and_rejected() -> None:
    free = socket.socket()
    free.bind(("127.0.0.1", 0))
    port = free.getsockname()[1]
    free.close()
    with pytest.raises(AssociationError) as info:
        Association.request(AssociationParams("A", "B", "127.0.0.1", port))
    assert info.value.kind is AssociationFailure.TCP
    assert info.value.condition.dump() == "0006:031c TCP Initialization Error: Connection refused"
    # DCMTK checks the AE titles only after the TCP connection was made
    with pytest.raises(AssociationError) as info:
        Association.request(AssociationParams("", "B", "127.0.0.1", port))
    assert info.value.condition.text == "TCP Initialization Error: Connection refused"
    # the peer is scanned back from "host:port" like DCMTK's "%[^:]:%d"
    for host, text in (("", f"Illegal service parameter: :{port}"),
                       ("::1", f"Illegal service parameter: ::1:{port}"),
                       ("a" * 70, "Illegal service parameter: " + "a" * 63),
                       ("256.1.1.1", "Attempt to connect to unknown host: 256.1.1.1"),
                       (f"127.0.0.1:{port}", "TCP Initialization Error: Connection refused")):
        with pytest.raises(AssociationError) as info:
            Association.request(AssociationParams("A", "B", host, 1))
        assert info.value.condition.text == text.replace(f":{port}", ":1") if host in ("", "::1") else text


def test_dcmtk_timeout_arithmetic() -> None:
    """-to/-ta/-td are cast to a C int and waited for with poll(ms) (int)."""
    assert c_int(2147483648) == -2147483648 and c_int(4294967296) == 0
    assert poll_wait(4294968) == 0.704 and poll_wait(-1) == float("inf")
    assert acse_seconds(4294967296) == 100 and acse_seconds(2147483648) == 100
    assert acse_seconds(30) == 30 and acse_seconds(None) is None
    assert dimse_wait(None) is None and dimse_wait(2**63 - 1) == float("inf")
    assert select_wait(2**63 - 1) is None and select_wait(4294967296) == 0.0
    error = AssociationError("rejected", COND_REJECTED, 1, 1, 7)
    assert error.reject_lines() == ("Rejected Permanent", "Service User", "Called AE Title Not Recognized")
    assert AssociationError("rejected", COND_REJECTED, 2, 3, 9).reject_lines()[2] == "UNKNOWN"


def _silent_acceptor(listener: socket.socket, done: threading.Event) -> None:
    conn, _ = listener.accept()
    try:
        Association.accept(conn, "SILENT", 16384, 5, 5, preference_negotiator(
            ["1.2.840.10008.5.1.4.1.2.1.3"], [EXPLICIT_LE]))
        done.wait(10)  # associated, then never a word
    finally:
        conn.close()
        listener.close()


@pytest.mark.parametrize("dimse_timeout,code", [(None, 0x0317), (0.3, 0x0207)])
def test_silent_peer_timeouts(monkeypatch: pytest.MonkeyPatch, dimse_timeout: float | None, code: int) -> None:
    """-td: 0006:0207 after the DIMSE timeout; without -td DCMTK's 60 s socket
    receive timeout (shortened here) ends the wait as a peer abort (0006:0317)."""
    monkeypatch.setattr(transport, "SOCKET_RECEIVE_TIMEOUT", 0.3)
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    done = threading.Event()
    thread = threading.Thread(target=_silent_acceptor, args=(listener, done), daemon=True)
    thread.start()
    try:
        params = AssociationParams("GETSCU", "SILENT", "127.0.0.1", listener.getsockname()[1], 16384,
                                     getscu_contexts("patient", "propose-uncompr", "prefer-uncompr"),
                                     acse_timeout=5, dimse_timeout=dimse_timeout)
        assoc = Association.request(params)
        with pytest.raises(DimseError) as info:
            assoc.receive_command()
        assert info.value.condition.code == code
        assoc.abort()
    finally:
        done.set()
        thread.join(5)


def _p_data(pc_id: int, control: int, fragment: bytes) -> bytes:
    return struct.pack(">BBIIBB", 4, 0, len(fragment) + 6, len(fragment) + 2, pc_id, control) + fragment


@pytest.mark.parametrize("pieces", ["whole", "bytewise-headers", "random", "big"])
def test_pdus_framed_across_recv_boundaries(pieces: str) -> None:
    """However the peer's bytes are cut into recv()s -- several PDUs in one,
    a PDU header split, a PDU over many recv()s, a PDU bigger than one
    recv() -- every fragment arrives whole, in order, and the views handed to
    the sink stay valid after later reads (read-only views of immutable bytes)."""
    rng = random.Random(pieces)
    size = 600_000 if pieces == "big" else 16_372
    fragments = [bytes(rng.randrange(256) for _ in range(64)) * (size // 64) for _ in range(3)]
    fragments.append(b"\x02\x04")  # a tiny last one
    stream = b"".join(_p_data(1, 0x02 if i == len(fragments) - 1 else 0x00, f) for i, f in enumerate(fragments))
    ours, peer = socket.socketpair()
    assoc = Association(ours, "A", "B", 16384, None, None)

    def send() -> None:
        if pieces == "whole":
            peer.sendall(stream)
            return
        pos = 0
        while pos < len(stream):
            step = rng.choice((1, 2, 5, 7)) if pieces == "bytewise-headers" and pos % 16384 < 12 else \
                rng.randrange(1, 70_000)
            peer.sendall(stream[pos:pos + step])
            pos += step
            time.sleep(0.0002)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    kept: list[memoryview] = []
    try:
        total = assoc.receive_dataset(1, kept.append, timeout=5)
    finally:
        sender.join(10)
        ours.close()
        peer.close()
    assert total == sum(len(f) for f in fragments)
    assert [bytes(v) for v in kept] == fragments
    assert all(v.readonly for v in kept)


def test_default_dimse_read_uses_the_kernel_receive_timeout(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without -td the read blocks with SO_RCVTIMEO (no poll() per recv); an
    ACSE-style wait without limit clears it again."""
    monkeypatch.setattr(transport, "SOCKET_RECEIVE_TIMEOUT", 0.25)
    ours, peer = socket.socketpair()
    try:
        assoc = Association(ours, "A", "B", 16384, None, None)
        start = time.monotonic()
        with pytest.raises(DimseError) as info:
            assoc.receive_command()
        assert info.value.condition.code == 0x0317 and 0.2 < time.monotonic() - start < 5
    finally:
        ours.close()
        peer.close()
    ours, peer = socket.socketpair()
    try:
        assoc = Association(ours, "A", "B", 16384, None, None)
        assoc._set_timeout(0.25, kernel=True)
        assert ours.gettimeout() is None  # blocking socket, the kernel times out
        for option in (socket.SO_RCVTIMEO, socket.SO_SNDTIMEO):
            seconds, micro = struct.unpack("ll", ours.getsockopt(socket.SOL_SOCKET, option, 16))
            assert 0.24 <= seconds + micro / 1e6 <= 0.26  # (the kernel rounds to its clock tick)
        assoc._set_timeout(None)
        assert struct.unpack("ll", ours.getsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, 16)) == (0, 0)
        assoc._set_timeout(2.0)
        assert ours.gettimeout() == 2.0
    finally:
        ours.close()
        peer.close()
