"""VERIFY.md: the commands that check an evidence package with standard tools only."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

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


def verify_md(
    manifest: Mapping[str, Any],
    stamps: Sequence[Mapping[str, Any]],
    warc_name: str,
    fingerprint: str,
    manifest_key: str = "key/public.pem",
) -> bytes:
    warc = manifest["warc"]
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
        "Then run the commands below in the folder the package was extracted to:",
        "",
        "```sh",
        "unzip evidence-*.zip -d evidence && cd evidence",
        "```",
        "",
        "## 1. No file has changed since the export",
        "",
        "```sh",
        "sha256sum -c SHA256SUMS",
        "openssl pkeyutl -verify -pubin -inkey key/public.pem -rawin -in SHA256SUMS -sigfile SHA256SUMS.sig",
        "```",
        "",
        "Expected: every line `OK`, then `Signature Verified Successfully`.",
        "",
        "## 2. The signing key",
        "",
        "The fingerprint is the sha256 of the 32 raw Ed25519 public key bytes:",
        "",
        "```sh",
        "openssl pkey -pubin -in key/public.pem -outform DER | tail -c 32 | sha256sum",
        "```",
        "",
        f"Expected: `{fingerprint}` (as in key/fingerprint.txt). Compare it with the",
        "fingerprint the archive's operator publishes or gave you separately.",
        "",
    ]
    if manifest_key != "key/public.pem":
        lines += [
            "The manifest was signed before a key rotation, by the key in",
            f"{manifest_key} (fingerprint in key/manifest-fingerprint.txt; the",
            "`key_rotated` custody entries link it to the current key):",
            "",
            "```sh",
            f"openssl pkey -pubin -in {manifest_key} -outform DER | tail -c 32 | sha256sum",
            "```",
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
        "`TSA-ROOT.pem` is the root certificate of the timestamp authority, obtained from",
        "the authority itself (for example https://freetsa.org/files/cacert.pem), not from",
        "this package. The certificates the token carries are in the `-certs.pem` file.",
        "",
        "```sh",
    ]
    for stamp in granted:
        subject, token, certs = stamp["subject"], stamp["file"], stamp["certificates"]
        lines += [
            f"# {stamp['tsa_url']}: stamped {stamp['gen_time']}",
            f"openssl ts -verify -data {subject} -in {token} -token_in "
            f"-CAfile TSA-ROOT.pem -untrusted {certs}",
            f"openssl ts -reply -in {token} -token_in -text | grep -E 'Time stamp|Message data'",
        ]
    if not granted:
        lines.append("# no timestamp had been obtained when this package was exported")
    lines.append("```")
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
        "`archiver verify evidence-....zip` runs the same checks (offline) and prints each",
        "result; it does not replace the independent commands above.",
        "",
    ]
    return "\n".join(lines).encode("utf-8")
