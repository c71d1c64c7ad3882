"""Fetch the pinned axe-core release from the npm registry into var/cache/axe-core/.

The browser tests inject axe.min.js into every page they check. The tarball is the one
the registry serves for the pinned version, checked against its published sha512
integrity and our own sha256 before anything is unpacked; a tarball that does not match
is discarded, never used. Run by `make test` (and by the tests themselves when the cache
is empty); without the registry it fails with the URL and the reason.

    python tools/fetch_axe.py        # prints the path of axe.min.js

The registry is npm's default or the one NPM_CONFIG_REGISTRY names (a mirror).
Python only, no npm: a clean CI machine has Python and make, nothing else.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import sys
import tarfile
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VERSION = "4.14.1"
# From the registry's packument (dist.integrity) and sha256 of that very tarball.
INTEGRITY = "sha512-FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
SHA256 = "e6b0ce02b84d892e2e33e403485e7f3d6c29e2be6df65daf44d89ba564139745"
CACHE = ROOT / "var" / "cache" / "axe-core"
MEMBER = "package/axe.min.js"
MAX_BYTES = 8 * 1024 * 1024     # the 4.14.1 tarball is 0.7 MB; anything far larger is not it
TIMEOUT = 60
ATTEMPTS = 3


class AxeFetchError(RuntimeError):
    """axe-core could not be fetched or did not match its pin."""


def tarball_url() -> str:
    # npm reads its settings from the environment in either case.
    names = ("NPM_CONFIG_REGISTRY", "npm_config_registry")
    registry = next((os.environ[n] for n in names if os.environ.get(n)), "https://registry.npmjs.org/")
    if not registry.startswith(("https://", "http://")):
        raise AxeFetchError(f"NPM_CONFIG_REGISTRY must be an http(s) URL, not {registry[:80]!r}")
    return f"{registry.rstrip('/')}/axe-core/-/axe-core-{VERSION}.tgz"


def matches_pin(data: bytes) -> str | None:
    """None when the bytes are the pinned tarball, else what differs."""
    integrity = "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()
    if integrity != INTEGRITY:
        return f"sha512 integrity {integrity[:30]}… is not the pinned {INTEGRITY[:30]}…"
    if hashlib.sha256(data).hexdigest() != SHA256:
        return f"sha256 {hashlib.sha256(data).hexdigest()} is not the pinned {SHA256}"
    return None


def _download(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=TIMEOUT) as reply:  # http(s) only: tarball_url checks
        data = reply.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise AxeFetchError(f"{url} is larger than {MAX_BYTES} bytes: not the axe-core tarball")
    return data


def fetch_tarball() -> bytes:
    """The pinned tarball, downloaded (with retries for a flaky network) and verified."""
    url = tarball_url()
    problem = ""
    for attempt in range(ATTEMPTS):
        try:
            data = _download(url)
        except (urllib.error.URLError, OSError) as exc:
            problem = f"could not download it: {exc}"
            if attempt + 1 < ATTEMPTS:
                time.sleep(1 + 2 * attempt)
            continue
        mismatch = matches_pin(data)
        if mismatch is None:
            return data
        problem = mismatch   # a wrong file is not retried into a right one
        break
    raise AxeFetchError(f"axe-core {VERSION} from {url}: {problem}. The accessibility tests need it: "
                        f"run `python tools/fetch_axe.py` where the npm registry is reachable")


def _write_atomically(path: Path, data: bytes) -> None:
    """Several test workers may fetch at once: each writes its own temporary file and
    renames it, so no reader ever sees half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name + ".")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def axe_script() -> Path:
    """The path of the pinned axe.min.js, fetched on first use; always unpacked from a
    tarball that matches the pin (the cached one is checked again on every call)."""
    folder = CACHE / VERSION
    tarball = folder / f"axe-core-{VERSION}.tgz"
    script = folder / "axe.min.js"
    data = tarball.read_bytes() if tarball.is_file() else b""
    if not data or matches_pin(data) is not None:
        data = fetch_tarball()
        _write_atomically(tarball, data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as archive:
        member = archive.extractfile(MEMBER)
        if member is None:
            raise AxeFetchError(f"axe-core {VERSION}: the tarball has no {MEMBER}")
        source = member.read()
    if not script.is_file() or script.read_bytes() != source:
        _write_atomically(script, source)
    return script


def main() -> int:
    try:
        print(axe_script())
    except AxeFetchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
