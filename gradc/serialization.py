"""``gradc.save`` / ``gradc.load``: tensors, state dicts and optimizer state in a file that
loading cannot run code from.

The file is a zip archive (as torch's is) holding ``structure.json`` (the containers, numbers
and strings, with a reference for each tensor) and one ``.npy`` per tensor, read back with
``allow_pickle=False``. There is no pickle anywhere, so ``load`` of a file from someone else is
safe, unlike ``torch.load(weights_only=False)``. Tensors saved twice (or as two entries of one
dict) load as one tensor, as torch preserves sharing.

>>> gradc.save({"model": net.state_dict(), "opt": opt.state_dict(), "epoch": 3}, "ckpt.gradc")
>>> ckpt = gradc.load("ckpt.gradc")
>>> net.load_state_dict(ckpt["model"])
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections import OrderedDict

import numpy as np

from gradc.errors import GradcError

FORMAT, VERSION = "gradc.save", 1
_STRUCTURE = "structure.json"
_MARKERS = ("__tensor__", "__ndarray__", "__tuple__", "__dict__")


class SaveError(GradcError, TypeError):
    """An object ``gradc.save`` cannot store without pickle (a module, a function...)."""


class LoadError(GradcError, RuntimeError):
    """A file that is not a ``gradc.save`` archive, or a damaged one."""


class _Writer:
    def __init__(self):
        self.arrays: dict = {}  # name -> ndarray
        self.seen: dict = {}  # id(tensor or array) -> name

    def _array(self, key, arr: np.ndarray) -> str:
        name = self.seen.get(id(key))
        if name is None:
            name = self.seen[id(key)] = f"data/{len(self.arrays)}.npy"
            self.arrays[name] = arr
        return name

    def encode(self, obj):
        from gradc._tensor import Tensor
        from gradc.nn.parameter import Parameter

        if obj is None or isinstance(obj, (bool, int, float, str)):
            return obj
        if isinstance(obj, Tensor):
            arr = obj._concrete("gradc.save")
            return {
                "__tensor__": self._array(obj, arr),
                "requires_grad": bool(obj.requires_grad),
                "parameter": isinstance(obj, Parameter),
            }
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise SaveError("gradc.save cannot store arrays of Python objects")
            return {"__ndarray__": self._array(obj, obj)}
        if isinstance(obj, np.generic):
            return obj.item()
        if isinstance(obj, tuple):
            return {"__tuple__": [self.encode(v) for v in obj]}
        if isinstance(obj, list):
            return [self.encode(v) for v in obj]
        if isinstance(obj, dict):
            plain = all(isinstance(k, str) and k not in _MARKERS for k in obj)
            if plain:
                return {k: self.encode(v) for k, v in obj.items()}
            return {"__dict__": [[self.encode(k), self.encode(v)] for k, v in obj.items()]}
        from gradc.dtypes import DType

        if isinstance(obj, DType):
            return {"__tuple__": ["__dtype__", obj.name]}
        hint = ""
        from gradc.nn.module import Module

        if isinstance(obj, Module):
            hint = ": save model.state_dict() and rebuild the model to load it"
        raise SaveError(
            f"gradc.save stores tensors, arrays, numbers, strings, None and lists, tuples and "
            f"dicts of them; got a {type(obj).__name__}{hint}",
            op="save",
        )


def save(obj, f) -> None:
    """Write ``obj`` (a tensor, a state dict, or containers of tensors, arrays, numbers and
    strings) to the path or binary file ``f``."""
    writer = _Writer()
    try:
        structure = {"format": FORMAT, "version": VERSION, "object": writer.encode(obj)}
    except GradcError as e:
        raise e.with_context(op="save") from None
    if isinstance(f, (str, os.PathLike)):
        with open(f, "wb") as fh:
            _write(fh, structure, writer.arrays)
    else:
        _write(f, structure, writer.arrays)


def _write(fh, structure, arrays) -> None:
    with zipfile.ZipFile(fh, "w", compression=zipfile.ZIP_STORED) as z:
        z.writestr(_STRUCTURE, json.dumps(structure, indent=1))
        for name, arr in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arr), allow_pickle=False)
            z.writestr(name, buf.getvalue())


class _Reader:
    def __init__(self, z: zipfile.ZipFile):
        self.z, self.cache = z, {}

    def _array(self, name: str) -> np.ndarray:
        if name not in self.cache:
            with self.z.open(name) as fh:
                self.cache[name] = np.lib.format.read_array(
                    io.BytesIO(fh.read()), allow_pickle=False
                )
        return self.cache[name]

    def decode(self, obj):
        from gradc._tensor import Tensor
        from gradc.nn.parameter import Parameter

        if isinstance(obj, list):
            return [self.decode(v) for v in obj]
        if not isinstance(obj, dict):
            return obj
        if "__tensor__" in obj:
            key = ("tensor", obj["__tensor__"])
            if key not in self.cache:
                data = self._array(obj["__tensor__"]).copy()
                if obj.get("parameter"):
                    t = Parameter(data, requires_grad=obj["requires_grad"])
                else:
                    t = Tensor._wrap(data, obj["requires_grad"])
                self.cache[key] = t
            return self.cache[key]
        if "__ndarray__" in obj:
            return self._array(obj["__ndarray__"]).copy()
        if "__tuple__" in obj:
            items = obj["__tuple__"]
            if len(items) == 2 and items[0] == "__dtype__":
                from gradc.dtypes import as_dtype

                return as_dtype(items[1])
            return tuple(self.decode(v) for v in items)
        if "__dict__" in obj:
            return OrderedDict((self._key(k), self.decode(v)) for k, v in obj["__dict__"])
        return OrderedDict((k, self.decode(v)) for k, v in obj.items())

    def _key(self, k):
        k = self.decode(k)
        return k if not isinstance(k, list) else tuple(k)


def load(f, map_location=None, *, weights_only: bool = True, mmap=None):
    """Read what ``gradc.save`` wrote to the path or binary file ``f``. No code runs: the
    archive holds JSON and ``.npy`` arrays only. ``map_location`` may be ``"cpu"``/None."""
    if map_location is not None:
        from gradc.device import as_device

        as_device(map_location)
    try:
        if isinstance(f, (str, os.PathLike)):
            with open(f, "rb") as fh:
                return _read(fh, f)
        return _read(f, getattr(f, "name", "the file"))
    except GradcError as e:
        raise e.with_context(op="load") from None


def _read(fh, name):
    try:
        z = zipfile.ZipFile(fh)
    except zipfile.BadZipFile:
        raise LoadError(
            f"{name} is not a gradc.save archive (torch's pickled checkpoints are not read: "
            "unpickling can run code; load them with torch and re-save the tensors)"
        ) from None
    with z:
        try:
            structure = json.loads(z.read(_STRUCTURE))
        except (KeyError, ValueError) as e:
            raise LoadError(f"{name} has no readable {_STRUCTURE}: {e}") from None
        if structure.get("format") != FORMAT:
            raise LoadError(f"{name} is a zip archive, but not one gradc.save wrote")
        if structure.get("version", 0) > VERSION:
            raise LoadError(
                f"{name} was written by a newer gradc (format version {structure['version']})"
            )
        try:
            return _Reader(z).decode(structure["object"])
        except (KeyError, ValueError) as e:
            raise LoadError(f"{name} is damaged: {e}") from None
