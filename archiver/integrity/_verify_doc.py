"""VERIFY.md: the commands that check an evidence package with standard tools only."""

from __future__ import annotations

import shlex
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from archiver.integrity.tsa_roots import ROOTS_DIR, authority_name, published_at

# The independent tools VERIFY.md names, at versions that check every WARC the archiver
# writes, whatever Content-Encoding the server used. warcio 1.8.1 decodes "br" bodies
# with whichever module is called ``brotli``: brotlipy's works; Google's ``brotli``
# package does not (every version tried, 1.0.1 to 1.2.1: ``warcio check`` stops with
# "'brotli.Decompressor' object has no attribute 'unused_data'"; 0.6.0 has no
# Decompressor at all), and brotlicffi is not looked for. The tests run these exact versions from .venv-tools (tools-constraints.txt
# pins the same): tests/integration/integrity/test_warcio_codings.py.
VERIFY_TOOLS: tuple[tuple[str, str], ...] = (
    ("warcio", "1.8.1"),
    ("brotlipy", "0.7.0"),
    ("wacz", "0.6.0"),
)
TOOLS_DIR = "$HOME/evidence-tools"


def install_command() -> str:
    """The pip command line of VERIFY.md's tools section."""
    pins = " ".join(f"{name}=={version}" for name, version in VERIFY_TOOLS)
    return f'"{TOOLS_DIR}/bin/pip" install {pins}'


_CHAIN_CHECK = """\
python3 - <<'PY'
import glob, hashlib, json
chain = [json.loads(line) for line in open("custody/chain.jsonl")]
prev = "0" * 64
for number, entry in enumerate(chain, 1):
    assert entry["seq"] == number and entry["prev_hash"] == prev, f"chain broken at {number}"
    prev = entry["entry_hash"]
head = json.load(open("custody/head.json"))
assert head["seq"] == len(chain) and head["head_hash"] == prev, "head does not match the chain"
for name in sorted(glob.glob("custody/entries/*.json")):
    data = open(name, "rb").read()
    entry = json.loads(data)
    link = chain[entry["seq"] - 1]
    assert hashlib.sha256(data).hexdigest() == link["entry_hash"], f"{name} changed"
    assert entry["prev_hash"] == link["prev_hash"], f"{name} is not linked into the chain"
print(f"custody chain OK: {len(chain)} entries, head {prev}")
PY"""


def _folder(package: str) -> str:
    """The folder a package is extracted to: named after it, so packages can sit side by
    side (``unzip evidence-*.zip -d evidence`` fails beside a second package)."""
    stem = package.removesuffix(".zip")
    return stem if stem and stem != package else f"{package}-files"


# Lists every file of the zip that SHA256SUMS does not cover, and then fails: sha256sum -c
# checks only the files it lists. (The zip, not the folder: the checks below add wacz/.)
_EXTRA_FILES = (
    "unzip -Z1 {package} | awk 'NR == FNR {{ listed[substr($0, 67)] = 1; next }} "
    '!($0 in listed) && $0 != "SHA256SUMS" && $0 != "SHA256SUMS.sig" '
    '{{ print "not covered by SHA256SUMS: " $0; extra = 1 }} END {{ exit extra }}\' SHA256SUMS -'
)


def _key_check(key_file: str) -> str:
    """Prints the key's fingerprint when it is one of $PUBLISHED_KEYS; fails otherwise."""
    return (
        "printf '%s\\n' ${PUBLISHED_KEYS:?set PUBLISHED_KEYS first, see above} | grep -Fx "
        f'"$(openssl pkey -pubin -in {key_file} -outform DER | tail -c 32 | sha256sum | cut -c1-64)"'
    )


def _attime(gen_time: str) -> int:
    """Seconds since 1970 of a stamp's time (``2026-01-02T03:04:05.000000Z``)."""
    return int(datetime.fromisoformat(gen_time.replace("Z", "+00:00")).timestamp())


def _root_file(stamp: Mapping[str, Any]) -> str:
    return str(stamp.get("root") or f"{ROOTS_DIR}/{authority_name(str(stamp['tsa_url']))}.pem")


def _timestamp_lines(granted: Sequence[Mapping[str, Any]]) -> list[str]:
    """Section 4: the roots (one per authority, named after it) and each token checked
    as of its own time."""
    lines = [
        "Each token is checked *as of the time it states* (`-attime`, in seconds since 1970):",
        "the authority's certificates must have been valid then, not today, so these commands",
        "still pass after they expire. Each authority has its own root certificate, in",
        f"{ROOTS_DIR}/, named after it. A root from the package proves nothing by itself",
        "(anyone can make one): compare its SHA-256 fingerprint with that of the root the",
        "authority publishes (the same `openssl x509` command on the authority's file), or",
        "put the authority's own file in its place.",
        "",
    ]
    roots: dict[str, Mapping[str, Any]] = {}
    for stamp in granted:
        roots.setdefault(_root_file(stamp), stamp)
    for name, stamp in roots.items():
        where = published_at(str(stamp["tsa_url"]))
        published = f" The authority publishes it at {where}." if where else ""
        if stamp.get("root"):
            digest = str(stamp.get("root_sha256") or "").upper()
            colons = ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))
            lines.append(
                f"- `{name}`: root of {stamp['tsa_url']}, SHA-256 fingerprint `{colons}`, "
                f"bundled from {stamp.get('root_source')}.{published}"
            )
        else:
            lines.append(
                f"- `{name}`: **not bundled** ({stamp.get('root_source')}). Save the root "
                f"certificate of {stamp['tsa_url']} under this name first.{published}"
            )
    lines += ["", "```sh"]
    lines += [f"openssl x509 -in {name} -noout -subject -fingerprint -sha256" for name in roots]
    for stamp in granted:
        subject, token, certs = stamp["subject"], stamp["file"], stamp["certificates"]
        lines += [
            f"# {stamp['tsa_url']}: stamped {stamp['gen_time']}",
            f"openssl ts -verify -data {subject} -in {token} -token_in -CAfile "
            f"{_root_file(stamp)} -untrusted {certs} -attime {_attime(str(stamp['gen_time']))}",
            f"openssl ts -reply -in {token} -token_in -text | grep -E 'Time stamp|Message data'",
        ]
    if not granted:
        lines.append("# no timestamp had been obtained when this package was exported")
    lines += ["```", "", "Expected: `Verification: OK` for every token."]
    return lines


def verify_md(
    manifest: Mapping[str, Any],
    stamps: Sequence[Mapping[str, Any]],
    warc_name: str,
    fingerprint: str,
    manifest_key: str = "key/public.pem",
    *,
    package: str = "evidence.zip",
) -> bytes:
    warc = manifest["warc"]
    folder = _folder(package)
    granted = [s for s in stamps if s["file"]]
    pending = [s for s in stamps if not s["file"]]
    lines = [
        "# How to verify this evidence package",
        "",
        f"Snapshot `{manifest['snapshot_id']}` of <{manifest['source']['url']}>, captured "
        f"{manifest['capture']['started_at']} to {manifest['capture']['finished_at']} (UTC).",
        "",
        "Every check below uses standard tools only (coreutils, OpenSSL 3, Python 3, and the",
        "`warcio` and `wacz` Python packages); none needs the software that made the package.",
        "",
        "## The tools",
        "",
        "Install the Python tools at these exact versions, in an environment of their own",
        "(outside the package folder; tried with Python 3.11), and put them first on the PATH:",
        "",
        "```sh",
        f'python3 -m venv "{TOOLS_DIR}"',
        install_command(),
        f'export PATH="{TOOLS_DIR}/bin:$PATH"',
        "```",
        "",
        "`brotlipy` lets warcio decode brotli-compressed (`br`) responses. Do not install the",
        "`brotli` package in the same environment: it provides a module of the same name that",
        "warcio 1.8.1 cannot use (`warcio check` then stops with `'brotli.Decompressor' object",
        "has no attribute 'unused_data'`). Where brotlipy will not install (it has no ready-made",
        "package for Apple-silicon Macs and is then built with a C compiler), leave it out:",
        "warcio then leaves brotli bodies as they are and checks their digests all the same.",
        "",
        "Then extract the package into a folder named after it (next to the package, so the",
        "check of section 1 can list the zip) and run the commands below in that folder:",
        "",
        "```sh",
        f"unzip {shlex.quote(package)} -d {shlex.quote(folder)} && cd {shlex.quote(folder)}",
        "```",
        "",
        "## 1. No file has changed since the export, and none was added",
        "",
        "```sh",
        "sha256sum -c SHA256SUMS",
        "openssl pkeyutl -verify -pubin -inkey key/public.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig",
        _EXTRA_FILES.format(package=shlex.quote(f"../{package}")),
        "```",
        "",
        "Expected: every line `OK`, then `Signature Verified Successfully`, then nothing: the",
        "last command lists every file in the package that SHA256SUMS does not cover, and",
        "fails if there is one (`sha256sum -c` checks only the files it lists, so a file added",
        "to the package would otherwise go unnoticed).",
        "",
        "## 2. The signing key is the organisation's",
        "",
        "The fingerprint is the sha256 of the 32 raw Ed25519 public key bytes. It only shows",
        "that the key and key/fingerprint.txt agree: anyone can make a key, sign a page of",
        "their own and build a package like this one. What ties the package to the",
        "organisation is the fingerprint it published (on its web site, in its reports, or",
        "given to you directly; never take it from this package). Set it first, several",
        "separated by spaces if the organisation rotated its key:",
        "`export PUBLISHED_KEYS='<the published fingerprint>'`. Then:",
        "",
        "```sh",
        "openssl pkey -pubin -in key/public.pem -outform DER | tail -c 32 | sha256sum",
        _key_check("key/public.pem"),
    ]
    if manifest_key != "key/public.pem":
        lines.append(_key_check(manifest_key))
    lines += [
        "```",
        "",
        f"Expected: `{fingerprint}` (as in key/fingerprint.txt), twice: the second command",
        "prints it only when it is one of PUBLISHED_KEYS, and fails otherwise.",
        "",
    ]
    if manifest_key != "key/public.pem":
        lines += [
            "The manifest was signed before a key rotation, by the key in",
            f"{manifest_key} (fingerprint in key/manifest-fingerprint.txt; the",
            "`key_rotated` custody entries link it to the current key); the last command",
            "above checks that it was published too.",
            "",
        ]
    lines += [
        "## 3. The manifest is signed",
        "",
        "manifest.json lists the URL, capture times, method, software, settings and every",
        "hash. It is canonical JSON (RFC 8785): these exact bytes were signed and timestamped.",
        "",
        "```sh",
        f"openssl pkeyutl -verify -pubin -inkey {manifest_key} -rawin -in manifest.json "
        "-sigfile manifest.sig",
        "```",
        "",
        "## 4. The manifest existed at the time stamped by a third party (RFC 3161)",
        "",
        "The certificates each token carries are in its `-certs.pem` file.",
        "",
    ]
    lines += _timestamp_lines(granted)
    lines.append("")
    lines += [
        f"Pending (not obtained yet) from {s['tsa_url']} for {s['subject']}." for s in pending
    ]
    lines += [
        "",
        "## 5. The web archive is the one the manifest names",
        "",
        "```sh",
        "unzip -o snapshot.wacz -d wacz",
        f"echo '{warc['sha256']}  wacz/archive/{warc_name}' | sha256sum -c -",
        f"warcio check -v wacz/archive/{warc_name}",
        "wacz validate -f snapshot.wacz",
        "```",
        "",
        f"The WARC file is {warc['size']} bytes. Every record carries sha256 block and payload",
        "digests (`warcio check` recomputes them; expected: `digest pass` under every record).",
        "Responses are kept exactly as the server sent them, compressed where it compressed",
        "them (Content-Encoding), and the digests are over those bytes. warcio 1.8.1 decodes",
        "gzip, deflate and (with brotlipy) br bodies when it reads them, but not zstd: it",
        "checks a zstd body's digests all the same (`zstd -d` decompresses one). Open",
        "snapshot.wacz in ReplayWeb.page (https://replayweb.page) or pywb to see the page as",
        "it was captured.",
        "",
        "## 6. The chain of custody",
        "",
        "custody/entries/ holds this source's custody entries, each as the exact bytes that",
        "were hashed; custody/chain.jsonl the hash links of the whole log up to the head;",
        "custody/head.json the signed (and timestamped, see 4) head of the log.",
        "",
        "```sh",
        "(cd custody && sha256sum -c entries.sha256)",
        "openssl pkeyutl -verify -pubin -inkey key/public.pem -rawin -in custody/head.json -sigfile custody/head.sig",
        _CHAIN_CHECK,
        "```",
        "",
        "## 7. All of the above at once",
        "",
        f"`archiver verify --key <published fingerprint> {package}` runs the same checks",
        "(offline) and prints each result; it does not replace the independent commands above.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
