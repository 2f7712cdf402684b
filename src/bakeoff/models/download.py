"""Downloads that recover: a stall is detected, the transfer retried with backoff and resumed from the
partial file, and the result verified before it gets its name.

- The bytes go to ``NAME.part`` beside the destination; only a file whose size (and sha256, where
  known) is right is renamed to ``NAME``, so a failed download never leaves a file that looks complete.
- A **stall** is no byte for ``stall_s`` seconds (the read timeout of every read, not of the whole
  transfer): the connection is dropped and the transfer retried.
- A **retry** resumes with ``Range: bytes=N-`` from the partial file's N bytes; a server that answers
  200 instead of 206 sends the whole file again, and the partial file is started over. Connection
  errors, stalls, 408, 429 and 5xx are retried (``retries`` times, waiting ``backoff_s`` x 2^k, at most
  ``MAX_BACKOFF_S``); any other 4xx is final (a wrong name does not get better).
- A partial file longer than the known size, or a finished one whose sha256 differs, is deleted and
  the download started over (it counts as a try).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx

from bakeoff.errors import DownloadError
from bakeoff.models.embedded import sha256_file

ProgressFn = Callable[[int, int | None], None]
"""Called with (bytes so far, total bytes or None) as a download goes."""
MAX_BACKOFF_S = 30.0
RETRYABLE_STATUS = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Remote:
    """What the server says of a file before it is fetched (size and sha256 where it gives them)."""

    url: str
    size: int | None
    sha256: str | None
    headers: tuple[tuple[str, str], ...] = ()
    """Sent with every request for it (a hub token for a gated repository)."""


@dataclass(frozen=True)
class Fetched:
    path: Path
    size: int
    sha256: str
    attempts: int
    resumed_bytes: int
    """Bytes a retry did not fetch again because the partial file already held them."""


def part_path(dest: Path) -> Path:
    return dest.with_name(dest.name + ".part")


class _Retry(Exception):
    """This try failed in a way another try can fix (``why`` says how)."""

    def __init__(self, why: str) -> None:
        super().__init__(why)
        self.why = why


def fetch(
    remote: Remote,
    dest: Path,
    *,
    stall_s: float = 30.0,
    retries: int = 4,
    backoff_s: float = 1.0,
    progress: ProgressFn | None = None,
    headers: dict[str, str] | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> Fetched:
    """Download ``remote`` to ``dest`` (the module's docstring says how it recovers); ``DownloadError``
    saying what failed on each try once every try is spent."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = part_path(dest)
    failures: list[str] = []
    resumed = 0
    timeout = httpx.Timeout(connect=stall_s, read=stall_s, write=stall_s, pool=stall_s)
    sent = {**dict(remote.headers), **(headers or {})}
    with httpx.Client(timeout=timeout, follow_redirects=True, headers=sent) as client:
        for attempt in range(retries + 1):
            if attempt:
                sleep(min(MAX_BACKOFF_S, backoff_s * 2 ** (attempt - 1)))
            have = part.stat().st_size if part.exists() else 0
            if remote.size is not None and have > remote.size:
                part.unlink()
                have = 0
            try:
                if remote.size is None or have < remote.size:
                    got = _one_try(client, remote, part, have, progress, stall_s)
                    resumed += have if got else 0
                return _finish(remote, part, dest, attempt + 1, resumed)
            except _Retry as exc:
                failures.append(f"try {attempt + 1}: {exc.why}")
    raise DownloadError(
        f"could not download {remote.url} after {retries + 1} tries: " + "; ".join(failures),
        hint=f"the {part.stat().st_size if part.exists() else 0} bytes fetched are kept in {part}: run the "
        "download again to resume it",
    )


def _one_try(
    client: httpx.Client, remote: Remote, part: Path, have: int, progress: ProgressFn | None, stall_s: float
) -> bool:
    """Fetch what the partial file lacks; True when the server resumed it (206) from ``have`` bytes."""
    ask = {"Range": f"bytes={have}-"} if have else {}
    try:
        with client.stream("GET", remote.url, headers=ask) as resp:
            if resp.status_code == 416 and have:  # nothing past what we have: the size will tell
                return True
            if resp.status_code in RETRYABLE_STATUS:
                raise _Retry(f"HTTP {resp.status_code}")
            if resp.status_code >= 400:
                raise DownloadError(
                    f"{remote.url}: HTTP {resp.status_code}",
                    hint="check the name (a 404 is a wrong repository or file, a 401 a gated or private one)",
                )
            resuming = resp.status_code == 206 and bool(have)
            if not resuming:
                have = 0  # the whole file is coming: start the partial file over
            total = remote.size
            with part.open("ab" if resuming else "wb") as fh:
                done = have
                for chunk in resp.iter_bytes():  # as they arrive: a stall loses none of them
                    fh.write(chunk)
                    done += len(chunk)
                    if progress:
                        progress(done, total)
            return resuming
    except httpx.TimeoutException:
        raise _Retry(f"stalled: no byte for {stall_s:g} s") from None
    except httpx.TransportError as exc:
        raise _Retry(f"{type(exc).__name__}: {exc}") from None


def _finish(remote: Remote, part: Path, dest: Path, attempts: int, resumed: int) -> Fetched:
    size = part.stat().st_size
    if remote.size is not None and size != remote.size:
        raise _Retry(f"ended at {size} of {remote.size} bytes")
    digest = sha256_file(part)
    if remote.sha256 is not None and digest != remote.sha256.lower():
        part.unlink()
        raise _Retry(f"sha256 {digest[:12]}... is not the expected {remote.sha256[:12]}...: fetched again")
    os.replace(part, dest)  # only a verified file gets the name
    return Fetched(dest, size, digest, attempts, resumed)


def settings_from_env() -> dict[str, float]:
    """``BAKEOFF_DOWNLOAD_STALL_S``, ``BAKEOFF_DOWNLOAD_RETRIES``, ``BAKEOFF_DOWNLOAD_BACKOFF_S``."""
    out: dict[str, float] = {}
    for key, name in (("stall_s", "STALL_S"), ("retries", "RETRIES"), ("backoff_s", "BACKOFF_S")):
        raw = os.environ.get(f"BAKEOFF_DOWNLOAD_{name}")
        if raw is None or not raw.strip():
            continue
        try:
            value = float(raw)
        except ValueError:
            raise DownloadError(f"BAKEOFF_DOWNLOAD_{name}={raw!r} is not a number") from None
        if value < 0:
            raise DownloadError(f"BAKEOFF_DOWNLOAD_{name}={raw!r} must not be negative")
        out[key] = value
    if "retries" in out:
        out["retries"] = int(out["retries"])
    return out


HF_ENDPOINT_DEFAULT = "https://huggingface.co"


def hub_remote(repo: str, filename: str, revision: str = "main", stall_s: float = 30.0) -> Remote:
    """A hub file's URL, size and sha256 (``X-Linked-Size`` / ``X-Linked-Etag`` of a file kept in LFS,
    as huggingface.co answers a HEAD of its resolve URL; ``HF_ENDPOINT`` picks another hub or mirror)."""
    base = os.environ.get("HF_ENDPOINT", HF_ENDPOINT_DEFAULT).rstrip("/")
    url = f"{base}/{repo}/resolve/{revision}/{filename}"
    token = os.environ.get("HF_TOKEN")
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    where = f"{filename} from {base.removeprefix('https://')}/{repo}"
    try:
        resp = httpx.head(url, headers=headers, timeout=stall_s, follow_redirects=False)
    except httpx.HTTPError as exc:
        raise DownloadError(
            f"could not download {where}: {type(exc).__name__}",
            hint="offline? download the file on a connected machine, copy it here and run "
            "`bakeoff models import FILE.gguf --name ALIAS`",
        ) from None
    if resp.status_code >= 400:
        raise DownloadError(
            f"could not download {where}: HTTP {resp.status_code}",
            hint="check the repository and file name (a 401 is a gated or private repository: set HF_TOKEN)",
        )
    size = resp.headers.get("x-linked-size") or (
        resp.headers.get("content-length") if resp.status_code == 200 else None
    )
    etag = (resp.headers.get("x-linked-etag") or resp.headers.get("etag") or "").removeprefix("W/").strip('"')
    sha = etag.lower() if len(etag) == 64 and all(c in "0123456789abcdefABCDEF" for c in etag) else None
    return Remote(url, int(size) if size and size.isdigit() else None, sha, tuple(headers.items()))
