"""The on-disk module cache: generated source becomes a real module file, imported (never
``exec``'d), so numba's ``cache=True`` keeps the machine code next to it and a second process
starts warm.

One file per key, ``<dir>/gradc_<key>.py``, written atomically (a temporary file, then
``os.replace``), so processes compiling the same program at once both succeed. The last line is
a checksum of everything above it; an entry that fails it (corrupt, half-written, edited) is
rebuilt with a warning, not trusted.

A program's manifest (``gradc_m_<key>.npz``: its module's key, its kernel modules, its constants)
lets a later process find the modules by the graph the user traced, before any pass has run.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import tempfile
import warnings
import zipfile
from pathlib import Path

import numpy as np

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
    with _atomic(path, "w") as f:
        f.write(content)


@contextlib.contextmanager
def _atomic(path: Path, mode: str):
    """A file to write ``path`` through: a temporary beside it, renamed over it when whole."""
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, mode) as f:
            yield f
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
    path, content, _ = _store(key, text, directory)
    return path, content


def _store(key: str, text: str, directory: Path | None) -> tuple[Path, str, bool]:
    """``store``, and whether the file was written now (so nothing has compiled it yet)."""
    path = (directory or cache_dir()) / f"gradc_{key}.py"
    content, problem = _read(path)
    if problem is not None:
        warnings.warn(f"gradc cache entry {path} is {problem}", CacheWarning, stacklevel=3)
    if content is None:
        content = _seal(text)
        _write(path, content)
        return path, content, True
    return path, content, False


def _read(path: Path) -> tuple[str | None, str | None]:
    """``(content, None)`` for an intact module file; ``(None, None)`` when there is none;
    ``(None, what is wrong)`` when it is unreadable or fails its checksum."""
    try:
        content = path.read_text()
    except FileNotFoundError:
        return None, None
    except (OSError, UnicodeDecodeError) as e:
        return None, f"unreadable ({e}); rebuilding"
    if not _intact(content):
        return None, "corrupt; rebuilding it"
    return content, None


def load(key: str, text: str, directory: Path | None = None, deps: dict | None = None):
    """Import the cached module for ``key`` (writing ``text`` first if needed):
    ``(module, path, content)``. ``content`` is the file exactly as it was compiled.

    ``deps`` (``key -> text``) are modules it imports by name (``gradc_<key>``): loaded first,
    each its own cached file, so programs sharing one share its compiled code. Those written
    now are compiled in parallel processes where there are enough (``runtime.precompile``)."""
    from runtime.precompile import precompile

    fresh, old = [], []
    for k, t in (deps or {}).items():
        path, _, written = _store(k, t, directory)
        (fresh if written else old).append(path)
    precompile(fresh, _import)
    for path in old:
        _import(path)
    path, content = store(key, text, directory)
    return _import(path), path, content


def load_stored(key: str, deps: list[str], directory: Path | None = None):
    """``load`` without the texts, for modules already on disk: ``(module, path, content,
    dep_contents)``, or None when any file is missing or fails its checksum (the caller then
    generates the texts and ``load`` rewrites the file with a warning)."""
    directory = directory or cache_dir()
    found = []
    for k in (*deps, key):
        path = directory / f"gradc_{k}.py"
        content, _ = _read(path)
        if content is None:
            return None
        found.append((path, content))
    for path, _ in found:
        _import(path)
    path, content = found[-1]
    return sys.modules[path.stem], path, content, [c for _, c in found[:-1]]


def body(content: str) -> str:
    """A cached file's text as generated: without its checksum line."""
    return content.rpartition(_CHECK)[0] if _CHECK in content else content


def _import(path: Path):
    name = path.stem
    module = sys.modules.get(name)
    if module is not None and getattr(module, "__file__", None) == str(path):
        return module
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    # numba's cache rebuilds a function's environment by importing its module by name
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def store_manifest(key: str, meta: dict, arrays: list, directory: Path | None = None) -> Path:
    """Write ``gradc_m_<key>.npz``: ``meta`` (JSON) and ``arrays`` (numeric, no pickles),
    atomically as the modules are."""
    path = (directory or cache_dir()) / f"gradc_m_{key}.npz"
    with _atomic(path, "wb") as f:
        named = {f"a{k}": a for k, a in enumerate(arrays)}
        np.savez(f, meta=np.array(json.dumps(meta)), **named)
    return path


def load_manifest(key: str, directory: Path | None = None) -> tuple[dict, list] | None:
    """``(meta, arrays)`` from ``gradc_m_<key>.npz``; None when there is none. One that cannot
    be read is reported with a ``CacheWarning`` and treated as absent (it is rewritten)."""
    path = (directory or cache_dir()) / f"gradc_m_{key}.npz"
    try:
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            arrays = [z[f"a{k}"] for k in range(len(z.files) - 1)]
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        warnings.warn(
            f"gradc cache entry {path} is unreadable ({e}); rebuilding", CacheWarning, stacklevel=3
        )
        return None
    return meta, arrays
