"""The on-disk module cache: generated source becomes a real module file, imported (never
``exec``'d), so numba's ``cache=True`` keeps the machine code next to it and a second process
starts warm.

One file per key, ``<dir>/gradc_<key>.py``, written atomically (a temporary file, then
``os.replace``), so processes compiling the same program at once both succeed. The last line is
a checksum of everything above it; an entry that fails it (corrupt, half-written, edited) is
rebuilt with a warning, not trusted.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import sys
import tempfile
import warnings
from pathlib import Path

_CHECK = "# gradc-checksum "


class CacheWarning(UserWarning):
    """A cache entry was unreadable or corrupt and has been rebuilt."""


def cache_dir(sub: str | None = None) -> Path:
    """``$GRADC_CACHE_DIR``, else the per-user cache folder; created owner-only (0700).
    ``sub`` names a folder inside it (one per compiler setting whose code must not mix)."""
    env = os.environ.get("GRADC_CACHE_DIR")
    if env:
        path = Path(env)
    elif sys.platform == "darwin":
        path = Path.home() / "Library" / "Caches" / "gradc"
    else:
        path = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "gradc"
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if sub:
        path = path / sub
        path.mkdir(mode=0o700, exist_ok=True)
    return path


def _checksum(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _seal(text: str) -> str:
    return f"{text}{_CHECK}{_checksum(text)}\n"


def _intact(content: str) -> bool:
    body, sep, tail = content.rpartition(_CHECK)
    return bool(sep) and tail.strip() == _checksum(body)


def _write(path: Path, content: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(content)
        os.replace(tmp, path)
    except BaseException:
        with _suppress():
            os.unlink(tmp)
        raise


class _suppress:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return exc[0] is not None and issubclass(exc[0], OSError)


def store(key: str, text: str, directory: Path | None = None) -> tuple[Path, str]:
    """The path of the module for ``key`` and its content; written unless an intact file is
    there already (a corrupt one is rewritten with a ``CacheWarning``)."""
    directory = directory or cache_dir()
    path = directory / f"gradc_{key}.py"
    try:
        content = path.read_text()
    except FileNotFoundError:
        content = None
    except (OSError, UnicodeDecodeError) as e:
        warnings.warn(
            f"gradc cache entry {path} is unreadable ({e}); rebuilding", CacheWarning, stacklevel=3
        )
        content = None
    else:
        if not _intact(content):
            warnings.warn(
                f"gradc cache entry {path} is corrupt; rebuilding it", CacheWarning, stacklevel=3
            )
            content = None
    if content is None:
        content = _seal(text)
        _write(path, content)
    return path, content


def load(key: str, text: str, directory: Path | None = None, deps: dict | None = None):
    """Import the cached module for ``key`` (writing ``text`` first if needed):
    ``(module, path, content)``. ``content`` is the file exactly as it was compiled.

    ``deps`` (``key -> text``) are modules it imports by name (``gradc_<key>``): loaded first,
    each its own cached file, so programs sharing one share its compiled code."""
    for k, t in (deps or {}).items():
        load(k, t, directory)
    path, content = store(key, text, directory)
    name = path.stem
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module, path, content
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # numba's cache rebuilds a function's environment by importing its module by name
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module, path, content
