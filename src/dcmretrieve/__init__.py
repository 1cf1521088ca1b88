"""dcmretrieve: faithful Python clones of DCMTK 3.6.7's ``movescu`` and ``getscu``.

The package is split into small modules (see ``docs/architecture.md``):
the command line (``options``, ``cmdline``, ``settings``), query keys
(``keys``, ``dicts``, ``dump``), logging (``oflog``), the association layer
(``association``), the receive-and-write pipeline (``pipeline``) and the two
thin entry points (``movescu``, ``getscu``).

Importing this package must stay cheap: ``--help`` and command-line errors
never import pynetdicom.
"""

__version__ = "0.1.0"

#: The DCMTK release whose behaviour we reproduce.
DCMTK_VERSION = "3.6.7"
DCMTK_DATE = "2022-04-22"
