"""Download with checksum verification, and safe gunzip, into the cache directory.

Files are written to ``NAME.part`` and renamed only once complete and
verified, so a failed or corrupt download never sits in the cache under the
final name.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import urllib.error
import urllib.request
import zlib
from pathlib import Path

from ._base import DatasetUnavailableError

__all__ = ["download_file", "file_md5", "gunzip_file"]

_CHUNK = 1 << 20


def file_md5(path: str | os.PathLike[str]) -> str:
    """Hex MD5 digest of a file."""
    h = hashlib.md5()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(_CHUNK), b""):
            h.update(chunk)
    return h.hexdigest()


def _remove(path: Path) -> None:
    try:
        path.unlink()
    except FileNotFoundError:
        pass


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    md5: str | None,
    *,
    manual_step: str = "",
    timeout: float = 60.0,
) -> Path:
    """Download ``url`` to ``dest`` and check its MD5 (skipped when ``md5`` is None).

    Raises:
        DatasetUnavailableError: the URL cannot be reached (offline, HTTP error);
            the message ends with ``manual_step``.
        ValueError: the downloaded file's checksum does not match; nothing is
            left at ``dest``.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    h = hashlib.md5()
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp, open(part, "wb") as out:
            for chunk in iter(lambda: resp.read(_CHUNK), b""):
                h.update(chunk)
                out.write(chunk)
    except (urllib.error.URLError, OSError, TimeoutError, ValueError) as err:
        _remove(part)
        raise DatasetUnavailableError(
            f"could not download {url} ({type(err).__name__}: {err}). {manual_step}".strip()
        ) from err
    digest = h.hexdigest()
    if md5 is not None and digest != md5.lower():
        _remove(part)
        raise ValueError(
            f"checksum mismatch for {dest.name} downloaded from {url}: md5 {digest}, expected "
            f"{md5}; the file was deleted (a truncated or altered download). {manual_step}".strip()
        )
    os.replace(part, dest)
    return dest


def gunzip_file(src: str | os.PathLike[str], dest: str | os.PathLike[str]) -> Path:
    """Decompress ``src`` (gzip) into ``dest`` atomically.

    Raises:
        ValueError: ``src`` is not valid gzip or is truncated; ``dest`` is not created.
    """
    src, dest = Path(src), Path(dest)
    part = dest.with_name(dest.name + ".part")
    try:
        with gzip.open(src, "rb") as fin, open(part, "wb") as fout:
            shutil.copyfileobj(fin, fout, _CHUNK)
    except (gzip.BadGzipFile, EOFError, zlib.error, OSError) as err:
        _remove(part)
        raise ValueError(
            f"{src}: not a valid or complete gzip file ({type(err).__name__}: {err}); "
            "delete it and download it again"
        ) from err
    os.replace(part, dest)
    return dest
