"""Harvesting: every citation (footnote marker, URL as cited, context) from a report.

Pure functions: ``harvest`` turns a report's bytes into citations; ``normalize_url``
gives a cited URL's source identity; ``classify_url`` its platform and kind.
"""

from archiver.harvest._core import harvest
from archiver.harvest.classify import Classification, Kind, Platform, classify_url
from archiver.harvest.model import Format, FoundCitation, HarvestResult, SkippedLink
from archiver.harvest.normalize import normalize_url

__all__ = [
    "Classification",
    "Format",
    "FoundCitation",
    "HarvestResult",
    "Kind",
    "Platform",
    "SkippedLink",
    "classify_url",
    "harvest",
    "normalize_url",
]
