"""The one association layer used by both ``getscu`` and ``movescu``.

A blocking socket transport and DCMTK's states around pynetdicom's PDU
classes and command-set codec (docs/architecture.md, "Why a blocking
transport over pynetdicom's codecs").  Modules, each importing only those
before it:

``conditions``  DCMTK's conditions, ``AssociationError``, ``DimseError``
``status``      DIMSE / C-STORE status texts and classes
``params``      contexts, a requestor's parameters, the acceptor's policy
``dimse``       the ``Command`` set, its codec (with the fast path), builders
``pdu``         the PDU codec on pynetdicom's PDU classes
``dumps``       DCMTK's dump texts of associations, commands and PDUs
``transport``   the blocking ``Association``: sockets, timeouts, DUL trace
``hostsaccess`` movescu's ``+ac`` (hosts.allow / hosts.deny)
``tls``         DCMTK 3.7.0's TLS layer (SSL contexts, handshakes); imports ``ssl``

Command-line policy (which transfer syntaxes an option stands for) is not
here: ``scu.policy`` hands this layer UIDs and contexts.  pydicom is used
only for query identifiers (``dimse.encode_identifier``) and the
command-set codec, never for received objects.
"""
