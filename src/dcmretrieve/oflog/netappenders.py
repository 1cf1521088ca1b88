"""log4cplus' appenders that leave the process: ``SysLogAppender`` (local
``/dev/log`` or RFC 5424 over UDP), ``Log4jUdpAppender`` (log4j XML events
over UDP) and ``SocketAppender`` (log4cplus' binary events over TCP).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from typing import Any

from .appenders import Appender
from .layouts import record_message
from .levels import DEBUG, ERROR, FATAL, INFO, OFF, TRACE, WARN, level_name
from .properties import Properties
from .state import STATE, hostname, loglog

_SYSLOG_FACILITIES = {
    "kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6,
    "news": 7, "uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
    "local0": 16, "local1": 17, "local2": 18, "local3": 19,
    "local4": 20, "local5": 21, "local6": 22, "local7": 23,
}  # fmt: skip


class SysLogAppender(Appender):
    """log4cplus SysLogAppender (``ident``, ``facility``, ``host``, ``port``).

    Local (no ``host``): what syslog(3) sends to ``/dev/log`` --
    ``<PRI>Mmm dd hh:mm:ss <ident>: <layout text>`` with the program name as
    the default ident; without a syslog socket the message is dropped
    silently, like syslog(3) does.  Remote (``host`` set): log4cplus' RFC 5424
    datagram ``<PRI>1 <UTC time>Z <host> <ident> <pid> <logger> - <text>``
    over UDP (``port`` default 514).  Both formats were captured from DCMTK.
    """

    SOCKET_PATH = "/dev/log"

    def __init__(self, props: Properties) -> None:
        super().__init__()
        self.ident = props.get("ident")
        facility = props.get("facility")
        self.facility = 1  # LOG_USER
        if facility:
            code = _SYSLOG_FACILITIES.get(facility.lower())
            if code is None:
                loglog("ERROR", "Unknown syslog facility: " + facility)
            else:
                self.facility = code
        self.host = props.get("host")
        self.port = props.get_int("port", 514)
        self.sock: Any = None
        if not self.host and self.ident:
            # openlog() is process-wide and openlog(NULL) keeps the tag:
            # the last non-empty ident applies to every local appender
            STATE.openlog_ident = self.ident

    @staticmethod
    def severity(levelno: int) -> int:
        if levelno < INFO:
            return 7  # LOG_DEBUG
        if levelno < WARN:
            return 6  # LOG_INFO
        if levelno < ERROR:
            return 4  # LOG_WARNING
        if levelno < FATAL:
            return 3  # LOG_ERR
        if levelno == FATAL:
            return 2  # LOG_CRIT
        return 1  # LOG_ALERT

    def datagram(self, record: logging.LogRecord) -> bytes:
        pri = self.facility * 8 + self.severity(record.levelno)
        text = self.layout.format(record)
        if self.host:
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            ms = int(record.msecs)
            line = f"<{pri}>1 {stamp}.{ms:03d}Z {hostname(False)} {self.ident} {os.getpid()} {record.name} - {text}"
        else:
            ident = STATE.openlog_ident or os.path.basename(sys.argv[0] or "") or "python"
            stamp = time.strftime("%b %e %H:%M:%S", time.localtime(record.created))
            line = f"<{pri}>{stamp} {ident}: {text}"
        return line.encode("utf-8", "surrogateescape")

    def append(self, record: logging.LogRecord) -> None:
        import socket

        data = self.datagram(record)
        try:
            if self.host:
                if self.sock is None:
                    self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
                self.sock.sendto(data, (self.host, self.port))
            else:
                if self.sock is None:
                    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
                    try:
                        sock.connect(self.SOCKET_PATH)
                    except OSError:
                        sock.close()
                        raise
                    self.sock = sock
                self.sock.send(data)
        except OSError:
            pass  # no syslog daemon: syslog(3) drops the message too

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        if not self.host:
            STATE.openlog_ident = ""  # closelog() forgets the tag
        super().close()


#: log4cplus' numeric levels (SocketAppender's wire format).
_LOG4CPLUS_LEVEL_NUMBERS = {TRACE: 0, DEBUG: 10000, INFO: 20000, WARN: 30000, ERROR: 40000, FATAL: 50000, OFF: 60000}


def _xml_escaped(text: str) -> str:
    """log4cplus ``output_xml_escaped``: the five XML entities, control
    bytes as ``&#xhh;``; other bytes (UTF-8) unchanged."""
    out: list[str] = []
    for ch in text:
        if ch == "<":
            out.append("&lt;")
        elif ch == ">":
            out.append("&gt;")
        elif ch == "&":
            out.append("&amp;")
        elif ch == "'":
            out.append("&apos;")
        elif ch == '"':
            out.append("&quot;")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"&#x{ord(ch):02x};")
        else:
            out.append(ch)
    return "".join(out)


def _record_location(record: logging.LogRecord) -> tuple[str, int, str]:
    """(file, line, function) of a record; -1 as line when there is none."""
    if not record.pathname:
        return "", -1, record.funcName or ""
    return record.pathname, record.lineno, record.funcName or ""


class Log4jUdpAppender(Appender):
    """log4cplus Log4jUdpAppender: one log4j XML event per UDP datagram to
    ``host`` (default localhost) : ``port`` (default 5000); the message is
    the layout's output.  A failed send (e.g. ICMP port unreachable from the
    previous datagram) is reported and the socket reopened for the next event,
    like DCMTK does."""

    def __init__(self, props: Properties) -> None:
        super().__init__()
        self.host = props.get("host", "localhost") if props.exists("host") else "localhost"
        self.port = props.get_int("port", 5000)
        self.sock: Any = None
        self.open_socket()

    def open_socket(self) -> None:
        import socket

        try:
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.connect((self.host, self.port))
            except OSError:
                sock.close()
                raise
            self.sock = sock
        except (OSError, OverflowError):
            self.sock = None

    def datagram(self, record: logging.LogRecord) -> bytes:
        file, line, func = _record_location(record)
        stamp = int(record.created * 1000)
        text = (
            f'<log4j:event logger="{_xml_escaped(record.name)}" level="{_xml_escaped(level_name(record.levelno))}"'
            f' timestamp="{stamp}" thread="{record.thread}">'
            f"<log4j:message>{_xml_escaped(self.layout.format(record))}</log4j:message>"
            f"<log4j:NDC></log4j:NDC>"
            f'<log4j:locationInfo class="" file="{_xml_escaped(file)}" method="{_xml_escaped(func)}" line="{line}"/>'
            f"</log4j:event>"
        )
        return text.encode("utf-8", "surrogateescape")

    def append(self, record: logging.LogRecord) -> None:
        if self.sock is None:
            self.open_socket()
            if self.sock is None:
                loglog("ERROR", "Log4jUdpAppender::append()- Cannot connect to server")
                return
        try:
            self.sock.send(self.datagram(record))
        except OSError:
            loglog("ERROR", "Log4jUdpAppender::append()- Cannot write to server")
            self.sock.close()
            self.sock = None

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        super().close()


class SocketAppender(Appender):
    """log4cplus SocketAppender: events in log4cplus' binary format over TCP
    to ``host``:``port`` (default 9998), with ``ServerName``.

    log4cplus reconnects from a background thread; its visible behaviour is
    reproduced synchronously: the first event after a failed connection is
    dropped and answered with ``ConnectorThread::run()- Cannot connect to
    server``; later events are dropped silently, a new attempt is made at most
    every 5 seconds."""

    RETRY_SECONDS = 5.0
    CONNECT_TIMEOUT = 10.0

    def __init__(self, props: Properties) -> None:
        super().__init__()
        self.host = props.get("host")
        self.port = props.get_int("port", 9998)
        self.server_name = props.get("ServerName")
        self.sock: Any = self.connect()
        self.connected = True  # log4cplus' flag starts true even if the connect failed
        self.next_attempt = 0.0

    def connect(self) -> Any:
        import socket

        try:
            return socket.create_connection((self.host or "localhost", self.port), timeout=self.CONNECT_TIMEOUT)
        except (OSError, OverflowError):
            return None

    @staticmethod
    def _string(text: str) -> bytes:
        data = text.encode("utf-8", "surrogateescape")
        return len(data).to_bytes(4, "big") + data

    def message(self, record: logging.LogRecord) -> bytes:
        """``convertToBuffer`` plus the length prefix."""
        file, line, func = _record_location(record)
        secs = int(record.created)
        usec = int((record.created - secs) * 1_000_000)
        body = b"".join(
            [
                bytes([3, 1]),  # message version, sizeof(tchar)
                self._string(self.server_name),
                self._string(record.name),
                _LOG4CPLUS_LEVEL_NUMBERS.get(record.levelno, record.levelno * 1000).to_bytes(4, "big"),
                self._string(""),  # NDC
                self._string(record_message(record)),
                self._string(str(record.thread)),
                (secs & 0xFFFFFFFF).to_bytes(4, "big"),
                usec.to_bytes(4, "big"),
                self._string(file),
                (line & 0xFFFFFFFF).to_bytes(4, "big"),
                self._string(func),
            ]
        )
        return len(body).to_bytes(4, "big") + body

    def reconnect(self) -> None:
        now = time.monotonic()
        if now < self.next_attempt:
            return
        self.sock = self.connect()
        if self.sock is None:
            loglog("ERROR", "SocketAppender::ConnectorThread::run()- Cannot connect to server")
            self.next_attempt = now + self.RETRY_SECONDS
        else:
            self.connected = True

    def append(self, record: logging.LogRecord) -> None:
        if not self.connected:
            self.reconnect()
            return
        try:
            if self.sock is None:
                raise OSError("not connected")
            self.sock.sendall(self.message(record))
        except OSError:
            if self.sock is not None:
                self.sock.close()
                self.sock = None
            self.connected = False
            self.reconnect()

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        super().close()
