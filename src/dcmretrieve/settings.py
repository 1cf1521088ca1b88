"""The typed settings object both tools run on.

The command-line layer (``cmdline``) fills one ``Settings`` from the option
tables in ``options``; the network code only ever reads it.  Field names are
the DCMTK long option names in snake case, so a reader can map a field to its
option without a table.  Values of rightmost-wins groups are stored as the
long name of the winning option without its leading dashes (e.g.
``prefer_xfer == "prefer-lossless"``), which keeps the mapping to DCMTK obvious.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Settings:
    """Everything the command line decided, for ``movescu`` or ``getscu``."""

    tool: str  # "movescu" or "getscu"
    argv0: str = ""  # argv[0] as typed (for --arguments)
    expanded_args: list[str] = field(default_factory=list)  # after @file expansion, long names

    # parameters
    peer: str = ""
    port: int = 0
    query_files: list[str] = field(default_factory=list)

    # general options
    arguments: bool = False
    log_level: str | None = None  # "quiet"/"verbose"/"debug" or an -ll value, lower case
    log_config: str | None = None  # -lc file

    # network options
    keys: list[str] = field(default_factory=list)  # raw -k values, command-line order
    # movescu: keys.MoveKeys parsed (and validated) at start-up by app; None without -k
    move_keys: object | None = None
    model: str = "patient"  # "patient" | "study" | "psonly"
    aetitle: str = ""  # set per tool: MOVESCU / GETSCU (already truncated to 16)
    call: str = "ANY-SCP"
    move: str | None = None  # movescu -aem; None = same as aetitle
    # +x? : "prefer-uncompr" (default) | "prefer-little" | ... | "implicit" | "accept-all"
    prefer_xfer: str = "prefer-uncompr"
    # -x? : "propose-uncompr" (default) | "propose-little" | "propose-big" |
    #       "propose-deflated" | "propose-implicit"
    propose_xfer: str = "propose-uncompr"
    # DCMTK 3.7.0's -i4/-i6/-i0: "inet" | "inet6" | "unspec"; None = none given
    # (DCMTK 3.6.7's IPv4-only code: address scan, resolution, listener)
    protocol_family: str | None = None
    access_control: bool = False  # movescu +ac
    listen_port: int = 0  # movescu --port; 0 = --no-port
    pending_read: bool = False  # movescu -pr
    timeout: int | None = None  # -to, seconds; None = unlimited
    acse_timeout: int = 30  # -ta
    dimse_timeout: int | None = None  # -td; None = blocking
    max_pdu: int = 16384  # -pdu
    disable_host_lookup: bool = False  # movescu -dhl
    repeat: int = 1
    abort: bool = False
    ignore: bool = False
    cancel: int = -1  # movescu --cancel; -1 = never
    uid_padding: bool = False  # movescu -up
    verbose_pc: bool = False  # getscu +v

    # output options
    output_directory: str = "."
    bit_preserving: bool = False  # +B
    write_file: bool = True  # +F / -F
    # +t? : "write-xfer-same" | "write-xfer-little" | "write-xfer-big" |
    #       "write-xfer-implicit" | "write-xfer-deflated"
    write_xfer: str = "write-xfer-same"
    enable_new_vr: bool = True  # +u / -u
    # +g? : "group-length-recalc" | "group-length-create" | "group-length-remove"
    group_length: str = "group-length-recalc"
    length_explicit: bool = True  # +e / -e
    padding: tuple[int, int] | None = None  # +p f i ; None = -p
    compression_level: int = 6  # +cl

    # DCMTK 3.7.0's TLS options (net/tls.py, docs/tls.md)
    tls: tuple[str, str] | str | None = None  # None -tls, "anonymous" +tla, (key, cert) +tls
    tls_password: str | None = None  # +pw / -pw (""); None = +ps, OpenSSL's prompt
    tls_der: bool = False  # -der
    tls_cert_files: list[str] = field(default_factory=list)  # +cf, in order
    tls_cert_dirs: list[str] = field(default_factory=list)  # +cd
    tls_crl_files: list[str] = field(default_factory=list)  # +crl
    tls_crl: str | None = None  # "leaf" +crv, "all" +cra
    tls_profile: str = "profile-8996"  # the long name of +pg/+pm/+py/+px/+pz/+pb/+pa/+pn
    tls_ciphers: list[str] = field(default_factory=list)  # +cs, in order
    tls_dhparam: str | None = None  # movescu +dp
    tls_request_sni: str | None = None
    tls_expect_sni: str | None = None  # movescu
    tls_seed: str | None = None  # +rs
    tls_write_seed: str | bool | None = None  # True: +ws (the +rs file); a name: +wf
    tls_verify: str = "require"  # "require" -rc, "verify" -vc, "ignore" -ic

    # dcmretrieve extensions (long options only; docs/ci.md)
    strict_exit: bool = False  # --strict-exit: the exit status follows the outcome
    allow_empty: bool = False  # --allow-empty: nothing retrieved is no failure under --strict-exit
    summary_json: str | None = None  # --summary-json FILE ("-" = standard output)
    output_layout: str | None = None  # --output-layout TEMPLATE (docs/output-layout.md)
    progress: bool = False  # --progress: live display on a terminal's stderr (docs/progress.md)
    # batch retrieval (docs/batch.md)
    parallel: int = 1  # --parallel N: up to N associations at once
    retry: int = 0  # --retry N: transient failures retried up to N times
    retry_wait: float = 1.0  # --retry-wait S: first back-off in seconds (doubles per retry)
    resume: str | None = None  # --resume SUMMARY.json: skip requests that succeeded there

    @property
    def move_destination(self) -> str:
        """C-MOVE destination: ``-aem`` or, by default, our own AE title."""
        return self.aetitle if self.move is None else self.move
