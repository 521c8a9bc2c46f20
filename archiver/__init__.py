"""Evidence archiver: harvests cited links from human-rights reports and preserves them."""

__version__ = "0.1.0"
