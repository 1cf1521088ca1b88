"""Helpers of the test suite (importable as ``support``: ``tests/`` is on
``sys.path`` through ``pythonpath`` in pyproject.toml).

* ``harness``: the DCMTK-comparison harness (run DCMTK and ours on the same
  argv, normalise, compare);
* ``ports``: ``free_port()``;
* ``servers``: real SCPs on 127.0.0.1 (dcmqrscp, storescp, Orthanc, fakeqr);
* ``sampledata``: sample objects, query files, generated data;
* ``fakeqr``: our fault-injecting Q/R SCP (run as a script by ``servers``);
* ``difffuzz`` / ``fuzz_launcher``: the differential fuzzer and its fork server.
"""
