"""classify_url: platform and kind from the URL alone."""

from __future__ import annotations

import random
import re
from collections import Counter
from pathlib import Path

import pytest

from archiver.harvest.classify import Classification, Kind, Platform, classify_url
from archiver.harvest.normalize import normalize_url

REPORT_001 = (
    Path(__file__).resolve().parents[3].parent / "shared" / "reports" / ("001_283ad7e3e1991c06.txt")
)
V = "dQw4w9WgXcQ"
PFBID = "pfbid02YfW7S97kQqMrwBbB71nbmHaqRepctwcpMeTWGJTASycR5cd4J4nczt5cQ76ovw1yl"

CASES: list[tuple[str, Platform, Kind]] = [
    # YouTube
    (f"https://www.youtube.com/watch?v={V}", Platform.YOUTUBE, Kind.VIDEO),
    (f"https://www.youtube.com/watch?v={V}&t=90", Platform.YOUTUBE, Kind.VIDEO),
    (f"https://youtu.be/{V}", Platform.YOUTUBE, Kind.VIDEO),
    (f"https://youtube.com/shorts/{V}", Platform.YOUTUBE, Kind.VIDEO),
    (f"https://www.youtube.com/live/{V}", Platform.YOUTUBE, Kind.VIDEO),
    (f"https://www.youtube-nocookie.com/embed/{V}", Platform.YOUTUBE, Kind.VIDEO),
    ("https://www.youtube.com/channel/UCx1", Platform.YOUTUBE, Kind.CHANNEL),
    ("https://www.youtube.com/@AzattyqTV", Platform.YOUTUBE, Kind.CHANNEL),
    ("https://www.youtube.com/@AzattyqTV/videos", Platform.YOUTUBE, Kind.CHANNEL),
    ("https://www.youtube.com/c/ProgrammingKnowledge/videos", Platform.YOUTUBE, Kind.CHANNEL),
    ("https://www.youtube.com/user/Name", Platform.YOUTUBE, Kind.CHANNEL),
    ("https://www.youtube.com/playlist?list=PLzMcBGfZo4", Platform.YOUTUBE, Kind.PLAYLIST),
    ("https://www.youtube.com/embed/videoseries?list=PLx", Platform.YOUTUBE, Kind.PLAYLIST),
    ("https://www.youtube.com/results?search_query=azattyq", Platform.YOUTUBE, Kind.SEARCH),
    ("https://www.youtube.com/hashtag/kazakhstan", Platform.YOUTUBE, Kind.SEARCH),
    ("https://www.youtube.com/post/UgkxAbc", Platform.YOUTUBE, Kind.POST),
    ("https://www.youtube.com/", Platform.YOUTUBE, Kind.HOME),
    ("https://www.youtube.com/feed/trending", Platform.YOUTUBE, Kind.OTHER),
    # Facebook
    (f"https://www.facebook.com/toregozhina/posts/{PFBID}", Platform.FACEBOOK, Kind.POST),
    ("https://www.facebook.com/toregozhina/posts/123456", Platform.FACEBOOK, Kind.POST),
    (
        "https://www.facebook.com/permalink.php?story_fbid=pfbid02yA&id=100076779432757",
        Platform.FACEBOOK,
        Kind.POST,
    ),
    ("https://m.facebook.com/story.php?story_fbid=3065&id=1192", Platform.FACEBOOK, Kind.POST),
    (
        "https://www.facebook.com/groups/ActivistsNotExtremists/posts/3388608751458384/",
        Platform.FACEBOOK,
        Kind.GROUP_POST,
    ),
    (
        "https://m.facebook.com/groups/southamericans/permalink/1629606003787605/",
        Platform.FACEBOOK,
        Kind.GROUP_POST,
    ),
    ("https://m.facebook.com/groups/117507531664134/", Platform.FACEBOOK, Kind.GROUP),
    ("https://www.facebook.com/groups/X/about", Platform.FACEBOOK, Kind.GROUP),
    (
        "https://www.facebook.com/photo?fbid=5870860542953103&set=pcb.3396601790659080",
        Platform.FACEBOOK,
        Kind.PHOTO,
    ),
    ("https://www.facebook.com/photo/?fbid=1&set=a.2", Platform.FACEBOOK, Kind.PHOTO),
    ("https://www.facebook.com/photo.php?fbid=1", Platform.FACEBOOK, Kind.PHOTO),
    (
        "https://m.facebook.com/Nintendo/photos/pcb.3065154550235644/3065146500236449/",
        Platform.FACEBOOK,
        Kind.PHOTO,
    ),
    ("https://www.facebook.com/media/set/?set=a.1", Platform.FACEBOOK, Kind.PHOTO),
    ("https://www.facebook.com/watch/?v=123", Platform.FACEBOOK, Kind.VIDEO),
    ("https://www.facebook.com/acolono/videos/10154107990797381/", Platform.FACEBOOK, Kind.VIDEO),
    ("https://www.facebook.com/video.php?v=123", Platform.FACEBOOK, Kind.VIDEO),
    ("https://fb.watch/abC12/", Platform.FACEBOOK, Kind.VIDEO),
    ("https://www.facebook.com/reel/123", Platform.FACEBOOK, Kind.REEL),
    ("https://www.facebook.com/share/p/AbC/", Platform.FACEBOOK, Kind.POST),
    ("https://www.facebook.com/share/v/AbC/", Platform.FACEBOOK, Kind.VIDEO),
    ("https://www.facebook.com/share/r/AbC/", Platform.FACEBOOK, Kind.REEL),
    ("https://www.facebook.com/toregozhina", Platform.FACEBOOK, Kind.PROFILE),
    ("https://www.facebook.com/profile.php?id=100013352235450", Platform.FACEBOOK, Kind.PROFILE),
    ("https://m.facebook.com/Nintendo/posts/", Platform.FACEBOOK, Kind.PROFILE),
    ("https://www.facebook.com/pages/Name/123", Platform.FACEBOOK, Kind.PAGE),
    ("https://www.facebook.com/hashtag/kazakhstan", Platform.FACEBOOK, Kind.SEARCH),
    ("https://www.facebook.com/events/123", Platform.FACEBOOK, Kind.OTHER),
    ("https://m.facebook.com/", Platform.FACEBOOK, Kind.HOME),
    # Telegram
    ("https://t.me/azattyq/123", Platform.TELEGRAM, Kind.POST),
    ("https://t.me/s/azattyq/123", Platform.TELEGRAM, Kind.POST),
    ("https://telegram.me/azattyq", Platform.TELEGRAM, Kind.CHANNEL),
    ("https://t.me/c/1234567/89", Platform.TELEGRAM, Kind.POST),
    ("https://t.me/+AbCdEf", Platform.TELEGRAM, Kind.GROUP),
    ("https://t.me/joinchat/AbCdEf", Platform.TELEGRAM, Kind.GROUP),
    ("https://t.me/addstickers/pack", Platform.TELEGRAM, Kind.OTHER),
    # Twitter / X
    ("https://x.com/jack/status/20", Platform.TWITTER, Kind.POST),
    ("https://twitter.com/Jack/status/20?s=20", Platform.TWITTER, Kind.POST),
    ("https://twitter.com/i/web/status/20", Platform.TWITTER, Kind.POST),
    ("https://x.com/jack", Platform.TWITTER, Kind.PROFILE),
    ("https://x.com/search?q=%23kz", Platform.TWITTER, Kind.SEARCH),
    ("https://x.com/hashtag/kz", Platform.TWITTER, Kind.SEARCH),
    ("https://x.com/i/broadcasts/1abc", Platform.TWITTER, Kind.VIDEO),
    ("https://t.co/AbC", Platform.TWITTER, Kind.OTHER),
    # Instagram
    ("https://www.instagram.com/p/CxYz/", Platform.INSTAGRAM, Kind.POST),
    ("https://www.instagram.com/user/p/CxYz/", Platform.INSTAGRAM, Kind.POST),
    ("https://www.instagram.com/reel/CxYz/", Platform.INSTAGRAM, Kind.REEL),
    ("https://www.instagram.com/reels/CxYz/", Platform.INSTAGRAM, Kind.REEL),
    ("https://www.instagram.com/tv/CxYz/", Platform.INSTAGRAM, Kind.VIDEO),
    ("https://www.instagram.com/some.user/", Platform.INSTAGRAM, Kind.PROFILE),
    ("https://www.instagram.com/explore/tags/kz/", Platform.INSTAGRAM, Kind.SEARCH),
    # TikTok
    ("https://www.tiktok.com/@user/video/7123", Platform.TIKTOK, Kind.VIDEO),
    ("https://www.tiktok.com/@user/photo/7123", Platform.TIKTOK, Kind.PHOTO),
    ("https://www.tiktok.com/@user", Platform.TIKTOK, Kind.PROFILE),
    ("https://vm.tiktok.com/ZMabc/", Platform.TIKTOK, Kind.VIDEO),
    ("https://www.tiktok.com/tag/kz", Platform.TIKTOK, Kind.SEARCH),
    # VK
    ("https://vk.com/wall-123_456", Platform.VK, Kind.POST),
    ("https://m.vk.com/wall123_456", Platform.VK, Kind.POST),
    ("https://vk.com/club1?w=wall-1_2", Platform.VK, Kind.POST),
    ("https://vk.com/video-123_456", Platform.VK, Kind.VIDEO),
    ("https://vk.com/clip-123_456", Platform.VK, Kind.REEL),
    ("https://vk.com/photo-123_456", Platform.VK, Kind.PHOTO),
    ("https://vk.com/doc123_456", Platform.VK, Kind.DOCUMENT),
    ("https://vk.com/club123", Platform.VK, Kind.GROUP),
    ("https://vk.com/public123", Platform.VK, Kind.PAGE),
    ("https://vk.com/id1", Platform.VK, Kind.PROFILE),
    ("https://vk.com/durov", Platform.VK, Kind.PROFILE),
    # everything else
    ("https://rus.azattyq.org/a/32064219.html", Platform.NEWS, Kind.ARTICLE),
    ("http://www.adilsoz.kz/news/show/id/3772", Platform.NEWS, Kind.ARTICLE),
    (
        "https://www.foreign.senate.gov/press/dem/release/menendez-cardin-durbin-brown-call-for-review",
        Platform.NEWS,
        Kind.ARTICLE,
    ),
    ("https://orda.kz/chernovik-7/", Platform.NEWS, Kind.ARTICLE),
    ("https://example.com/?p=123", Platform.NEWS, Kind.ARTICLE),
    ("https://gov.kz/#/news/1", Platform.NEWS, Kind.ARTICLE),
    ("https://en.wikipedia.org/wiki/Foo_(bar)", Platform.NEWS, Kind.ARTICLE),
    ("https://telegram.org/blog", Platform.NEWS, Kind.ARTICLE),
    ("https://notfacebook.com/a/posts/1", Platform.NEWS, Kind.ARTICLE),
    ("https://x.kz/report.pdf", Platform.WEB, Kind.DOCUMENT),
    ("https://x.kz/files/Report.PDF?download=1", Platform.WEB, Kind.DOCUMENT),
    ("https://x.kz/a.docx", Platform.WEB, Kind.DOCUMENT),
    ("https://x.kz/a.xlsx", Platform.WEB, Kind.DOCUMENT),
    ("https://x.kz/a.odt", Platform.WEB, Kind.DOCUMENT),
    ("https://x.kz/a.rtf", Platform.WEB, Kind.DOCUMENT),
    ("https://x.kz/photo.jpg", Platform.WEB, Kind.IMAGE),
    ("https://scontent.xx.fbcdn.net/v/t39/1_n.png?stp=1", Platform.WEB, Kind.IMAGE),
    ("https://x.kz/a.webp", Platform.WEB, Kind.IMAGE),
    ("https://x.kz/clip.mp4", Platform.WEB, Kind.MEDIA),
    ("https://x.kz/a.mp3", Platform.WEB, Kind.MEDIA),
    ("https://x.kz/a.webm", Platform.WEB, Kind.MEDIA),
    ("https://rus.azattyq.org/", Platform.WEB, Kind.HOME),
    ("https://rus.azattyq.org", Platform.WEB, Kind.HOME),
    ("https://www.example.com/#top", Platform.WEB, Kind.HOME),
    ("https://x.kz/pdf", Platform.NEWS, Kind.ARTICLE),
]


@pytest.mark.parametrize(("url", "platform", "kind"), CASES)
def test_classify_url(url: str, platform: Platform, kind: Kind) -> None:
    assert classify_url(url) == Classification(platform, kind)


@pytest.mark.parametrize(("url", "platform", "kind"), CASES)
def test_classification_survives_normalization(url: str, platform: Platform, kind: Kind) -> None:
    assert classify_url(normalize_url(url)) == Classification(platform, kind)


@pytest.mark.parametrize(
    "url", ["mailto:a@b.kz", "/relative", "", "https://", "not a url", "tel:+7"]
)
def test_non_urls_are_web_other(url: str) -> None:
    assert classify_url(url) == Classification(Platform.WEB, Kind.OTHER)


def test_fields_compare_as_plain_strings() -> None:
    c = classify_url("https://t.me/azattyq/1")
    assert (c.platform, c.kind) == ("telegram", "post")
    assert str(c.platform) == "telegram"
    assert {p.value for p in Platform} == {
        "news", "facebook", "youtube", "telegram", "twitter", "instagram", "tiktok", "vk", "web",
    }  # fmt: skip
    assert len(Kind) == 17


def test_classify_never_raises_on_random_strings() -> None:
    rng = random.Random(3)
    alphabet = "abc/.:?#=&%[]@жол-_ "
    prefixes = ["https://", "http://", "https://www.facebook.com/", "https://t.me/", "", "vk.com/"]
    for _ in range(2000):
        s = rng.choice(prefixes) + "".join(rng.choice(alphabet) for _ in range(rng.randint(0, 30)))
        c = classify_url(s)
        assert c.platform in set(Platform)
        assert c.kind in set(Kind)


def test_report_001_sources() -> None:
    """Acceptance: report 001 cites 127 notes, 118 sources: 78 news, 32 facebook, 8 youtube."""
    text = REPORT_001.read_text(encoding="utf-8")
    notes = [
        (int(m[1]), m[2]) for line in text.splitlines() if (m := re.match(r"^\[(\d+)\](\S+)", line))
    ]
    assert [n for n, _ in notes] == list(range(1, 128))
    sources = {normalize_url(url) for _, url in notes}
    assert len(sources) == 118
    by_platform = Counter(classify_url(s).platform for s in sources)
    assert by_platform == {Platform.NEWS: 78, Platform.FACEBOOK: 32, Platform.YOUTUBE: 8}
    by_kind = Counter((classify_url(s).platform, classify_url(s).kind) for s in sources)
    assert by_kind == {
        (Platform.NEWS, Kind.ARTICLE): 78,
        (Platform.FACEBOOK, Kind.GROUP_POST): 20,
        (Platform.FACEBOOK, Kind.POST): 9,
        (Platform.FACEBOOK, Kind.PHOTO): 3,
        (Platform.YOUTUBE, Kind.VIDEO): 8,
    }
