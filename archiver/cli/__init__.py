"""The ``archiver`` command: a thin layer over :class:`archiver.app.Archive`.

Every error the archiver raises on purpose is printed as one line (``error: ...``) with
exit status 1 (2 for bad usage or configuration); never a traceback. The commands live
by what they work on: ``sources`` (add, capture, check, status), ``evidence`` (export,
verify, keys, stamp), ``service`` (run, token, feed), ``witnesses`` (copies held by
public web archives), ``workers`` (``archiver worker``, the PostgreSQL work queue).
"""

from archiver.cli import evidence, service, sources, witnesses, workers
from archiver.cli._base import main

__all__ = ["evidence", "main", "service", "sources", "witnesses", "workers"]
