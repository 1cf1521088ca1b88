"""The protocol floor of a C-GET in Python: the least any Python getscu can do.

    .venv/bin/python benchmarks/protocol_floor.py HOST PORT CALLED_AE OUTDIR STUDY_UID

A minimal C-GET SCU written with nothing but ``socket``, ``struct`` and
``os``: it negotiates Study Root GET plus the storage classes of the
benchmark data (CT and Secondary Capture) in Explicit VR Little Endian,
sends one C-GET-RQ (STUDY level, one Study Instance UID), and for every
C-STORE-RQ collects the data set's fragments, writes a file (128-byte
preamble, ``DICM``, a minimal meta header, the data set's bytes as they
arrived, one ``writev``) and answers with a C-STORE-RSP Success; it stops at
the final C-GET-RSP and releases the association.  No element walk, no
re-encoding, no checks, no logging, no options, no error handling.

Why: ``benchmarks/floor.py`` streams the same bytes without the DIMSE round
trips; a C-GET cannot stream, because the archive sends the next object
only after the C-STORE-RSP of the previous one.  This script keeps that
round trip and drops everything else, so its time is what the protocol
itself costs a Python process on this machine (interpreter start-up,
``recv``, one ``open``/``writev``/``close`` per object, the DIMSE
messages).  ``benchmarks/retrieve.py`` runs it as the tool ``protocol`` on
the get scenarios.  If it is not faster than DCMTK's getscu, no Python
implementation that does more per object can be.
"""

from __future__ import annotations

import os
import socket
import struct
import sys

GET_STUDY = b"1.2.840.10008.5.1.4.1.2.2.3"
STORAGE = (b"1.2.840.10008.5.1.4.1.1.2", b"1.2.840.10008.5.1.4.1.1.7")  # CT, Secondary Capture
EXPLICIT_LE = b"1.2.840.10008.1.2.1"
IMPLEMENTATION = b"1.2.826.0.1.3680043.8.498.1"
_PDU = struct.Struct(">BBI")
_PDV = struct.Struct(">IBB")
_ELEM = struct.Struct("<HHI")


def _item(kind: int, value: bytes) -> bytes:
    return struct.pack(">BBH", kind, 0, len(value)) + value


def _even(uid: bytes) -> bytes:
    return uid + b"\0" if len(uid) % 2 else uid


def associate_rq(called: bytes, calling: bytes, max_pdu: int = 16384) -> bytes:
    items = [_item(0x10, b"1.2.840.10008.3.1.1.1")]
    for pc_id, uid in enumerate((GET_STUDY, *STORAGE)):
        items.append(_item(0x20, bytes((2 * pc_id + 1, 0, 0, 0)) + _item(0x30, uid) + _item(0x40, EXPLICIT_LE)))
    user = [_item(0x51, struct.pack(">I", max_pdu)), _item(0x52, IMPLEMENTATION)]
    user += [_item(0x54, struct.pack(">H", len(uid)) + uid + b"\0\1") for uid in STORAGE]
    items.append(_item(0x50, b"".join(user)))
    body = struct.pack(">HH", 1, 0) + called.ljust(16) + calling.ljust(16) + bytes(32) + b"".join(items)
    return _PDU.pack(1, 0, len(body)) + body


def command(elements: list[tuple[int, bytes]]) -> bytes:
    """An Implicit VR LE command set (group length first)."""
    body = b"".join(_ELEM.pack(0, elem, len(value)) + value for elem, value in elements)
    return _ELEM.pack(0, 0, 4) + struct.pack("<I", len(body)) + body


def p_data(pc_id: int, control: int, data: bytes) -> bytes:
    return _PDU.pack(4, 0, len(data) + 6) + _PDV.pack(len(data) + 2, pc_id, control) + data


def parse_command(data: bytes) -> dict[int, bytes]:
    out, pos = {}, 0
    while pos + 8 <= len(data):
        _group, elem, length = _ELEM.unpack_from(data, pos)
        out[elem] = data[pos + 8:pos + 8 + length]
        pos += 8 + length
    return out


class Reader:
    """PDVs from the socket: (pc_id, control, data view)."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock, self.buf, self.pos = sock, b"", 0

    def _need(self, n: int) -> None:
        while len(self.buf) - self.pos < n:
            more = self.sock.recv(1 << 18)
            if not more:
                raise ConnectionError("closed")
            self.buf = self.buf[self.pos:] + more if self.pos < len(self.buf) else more
            self.pos = 0

    def pdu(self) -> tuple[int, memoryview]:
        self._need(6)
        kind, _r, length = _PDU.unpack_from(self.buf, self.pos)
        self._need(6 + length)
        start = self.pos + 6
        self.pos = start + length
        return kind, memoryview(self.buf)[start:self.pos]

    def pdvs(self):
        while True:
            kind, body = self.pdu()
            if kind != 4:
                raise ConnectionError(f"PDU type {kind}")
            pos = 0
            while pos < len(body):
                length, pc_id, control = _PDV.unpack_from(body, pos)
                yield pc_id, control, body[pos + 6:pos + 4 + length]
                pos += 4 + length


def meta_header(sop_class: bytes, sop_instance: bytes, ts: bytes) -> bytes:
    def el(elem: int, vr: bytes, value: bytes) -> bytes:
        if vr == b"OB":
            return struct.pack("<HH2sHI", 2, elem, vr, 0, len(value)) + value
        return struct.pack("<HH2sH", 2, elem, vr, len(value)) + value
    body = (el(1, b"OB", b"\0\1") + el(2, b"UI", _even(sop_class)) + el(3, b"UI", _even(sop_instance))
            + el(0x10, b"UI", _even(ts)) + el(0x12, b"UI", _even(IMPLEMENTATION)))
    return bytes(128) + b"DICM" + el(0, b"UL", struct.pack("<I", len(body))) + body


def main(host: str, port: int, called: str, out_dir: str, study_uid: str) -> int:
    sock = socket.create_connection((host, port))
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.sendall(associate_rq(called.encode(), b"GETSCU"))
    reader = Reader(sock)
    kind, body = reader.pdu()
    if kind != 2:
        raise SystemExit(f"association not accepted (PDU type {kind})")
    accepted: dict[int, bytes] = {}
    pos = 68
    while pos < len(body):
        item, _r, length = struct.unpack_from(">BBH", body, pos)
        if item == 0x21 and body[pos + 6] == 0:  # an accepted context: its transfer syntax
            accepted[body[pos + 4]] = bytes(body[pos + 12:pos + 4 + length]).rstrip(b"\0")
        pos += 4 + length
    identifier = (struct.pack("<HH2sH", 8, 0x52, b"CS", 6) + b"STUDY "
                  + struct.pack("<HH2sH", 0x20, 0x0D, b"UI", len(_even(study_uid.encode())))
                  + _even(study_uid.encode()))
    rq = command([(2, _even(GET_STUDY)), (0x100, b"\x10\0"), (0x110, b"\1\0"), (0x700, b"\0\0"),
                  (0x800, b"\0\0")])
    sock.sendall(p_data(1, 3, rq) + p_data(1, 2, identifier))
    pdvs = reader.pdvs()
    count = 0
    while True:
        parts = []
        for pc_id, control, data in pdvs:
            parts.append(data)
            if control & 2:
                break
        cmd = parse_command(b"".join(parts))
        field = struct.unpack("<H", cmd[0x100])[0]
        if field == 0x8010:  # C-GET-RSP
            if struct.unpack("<H", cmd[0x900])[0] in (0xFF00, 0xFF01):
                continue
            break
        # C-STORE-RQ: its data set, then the file, then the response
        data_parts = []
        for pc_id, control, data in pdvs:
            data_parts.append(data)
            if control & 2:
                break
        sop_class, sop_instance = cmd[2].rstrip(b"\0"), cmd[0x1000].rstrip(b"\0")
        fd = os.open(os.path.join(out_dir, sop_instance.decode()), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)
        os.writev(fd, [meta_header(sop_class, sop_instance, accepted.get(pc_id, EXPLICIT_LE)), *data_parts])
        os.close(fd)
        count += 1
        rsp = command([(2, cmd[2]), (0x100, b"\x01\x80"), (0x120, cmd[0x110]), (0x800, b"\x01\x01"),
                       (0x900, b"\0\0"), (0x1000, cmd[0x1000])])
        sock.sendall(p_data(pc_id, 3, rsp))
    sock.sendall(b"\x05\x00\x00\x00\x00\x04\x00\x00\x00\x00")  # A-RELEASE-RQ
    try:
        reader.pdu()
    except ConnectionError:
        pass
    sock.close()
    return 0 if count else 1


if __name__ == "__main__":
    if len(sys.argv) != 6:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        sys.exit(2)
    sys.exit(main(sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]))
