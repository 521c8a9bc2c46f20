"""Evidence integrity: canonical manifests, Ed25519 signatures, RFC 3161 timestamps and
the hash-chained custody log (DESIGN.md, "Data flow" -> integrity).

Pure functions where possible; files, the database and the network sit at the edges
(:mod:`.keys`, :mod:`.custody`, :class:`.timestamp.TimestampClient`).
"""
