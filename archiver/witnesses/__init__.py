"""Witnesses: copies of a source held by public web archives (docs/witnesses.md).

Two things, both about a copy that is not ours:

- an **earlier copy** of a source we could not preserve (it was gone when we came), found
  through Memento TimeMaps (RFC 7089) or the Wayback CDX API, fetched raw and kept in a
  sealed WARC of its own as a *third-party copy* (:mod:`.lookup`, :mod:`.record`);
- an **independent witness** of a live source: the Wayback Machine's Save Page Now asked
  to capture it right after our own capture (:mod:`.spn`).

Parsing and choosing are pure functions (:mod:`.timemap`, :mod:`.dates`); requests go
through the capture's guarded :class:`~archiver.capture.http.Fetcher`, so the proxy,
politeness and the private-network guard apply to archives as to any other host.
"""
