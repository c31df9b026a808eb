"""``plugtorch.hub``: weights downloaded once, checked, cached, and loaded without running code.

PyTorch's rules: files land in ``get_dir()/checkpoints``, where ``get_dir()`` is
``$PLUGTORCH_HOME/hub`` and ``PLUGTORCH_HOME`` defaults to ``$XDG_CACHE_HOME/plugtorch``
(``~/.cache/plugtorch``). A file already there is loaded with no network request. With
``check_hash=True`` the part of the file name after the last '-' is a prefix of the file's
SHA-256 (``resnet18-5c106cde.safetensors``) that the download must match.

Processes fetching the same file take turns through a lock file beside it, so the second one
waits and then loads what the first one saved; a download is renamed into place only when
complete and verified. ``PLUGTORCH_HUB_OFFLINE=1`` loads from the cache only.

>>> sd = plugtorch.hub.load_state_dict_from_url(
...     "https://example.com/weights/mlp-1a2b3c4d.safetensors", check_hash=True)  # doctest: +SKIP
>>> model.load_state_dict(sd)                                                     # doctest: +SKIP
"""
from __future__ import annotations

import os
import re
import sys
import urllib.parse
import warnings

from plugtorch import serialization
from plugtorch.hub.download import ENV_OFFLINE, download_url_to_file, is_offline
from plugtorch.hub.file_lock import FileLock

__all__ = ["download_url_to_file", "get_dir", "load_state_dict_from_url", "set_dir"]

HASH_REGEX = re.compile(r"-([a-f0-9]*)\.")      # PyTorch's: name-<sha256 prefix>.ext
ENV_PLUGTORCH_HOME = "PLUGTORCH_HOME"
ENV_XDG_CACHE_HOME = "XDG_CACHE_HOME"
DEFAULT_CACHE_DIR = "~/.cache"

_hub_dir: str | None = None


def _get_plugtorch_home() -> str:
    cache = os.environ.get(ENV_XDG_CACHE_HOME) or DEFAULT_CACHE_DIR     # empty means unset (XDG spec)
    return os.path.expanduser(os.environ.get(ENV_PLUGTORCH_HOME) or os.path.join(cache, "plugtorch"))


def get_dir() -> str:
    """The hub's cache directory: the one given to ``set_dir``, else ``$PLUGTORCH_HOME/hub``
    (``PLUGTORCH_HOME`` defaults to ``$XDG_CACHE_HOME/plugtorch``, that to ``~/.cache/plugtorch``).

    >>> plugtorch.hub.get_dir()          # doctest: +SKIP
    '/home/me/.cache/plugtorch/hub'
    """
    return _hub_dir if _hub_dir is not None else os.path.join(_get_plugtorch_home(), "hub")


def set_dir(d) -> None:
    """Use ``d`` as the hub's cache directory from now on (checkpoints go to ``d/checkpoints``).

    >>> plugtorch.hub.set_dir("/data/plugtorch_hub")     # doctest: +SKIP
    """
    global _hub_dir
    _hub_dir = os.path.expanduser(os.fspath(d))


def load_state_dict_from_url(url: str, model_dir=None, map_location=None, progress: bool = True,
                             check_hash: bool = False, file_name: str | None = None,
                             weights_only: bool = True):
    """Load the object ``plugtorch.save`` wrote to the file at ``url``, downloading it into
    ``model_dir`` (default ``get_dir()/checkpoints``) unless it is there already.

    ``file_name`` replaces the name taken from the URL. With ``check_hash`` the name must read
    ``name-<sha256 prefix>.ext`` and the download must match it. ``map_location`` goes to
    ``plugtorch.load``, which never runs code whatever ``weights_only`` says.

    >>> sd = plugtorch.hub.load_state_dict_from_url(
    ...     "https://example.com/mlp-1a2b3c4d.safetensors", map_location="cpu")   # doctest: +SKIP
    """
    if model_dir is None:
        model_dir = os.path.join(get_dir(), "checkpoints")
    model_dir = os.path.expanduser(os.fspath(model_dir))
    filename = file_name if file_name is not None else os.path.basename(urllib.parse.urlsplit(url).path)
    if not filename or filename in (".", ".."):
        raise ValueError(f'plugtorch.hub: the URL "{url}" has no file name to cache it under; pass '
                         "file_name='name.safetensors'")
    cached_file = os.path.join(model_dir, filename)
    if not os.path.exists(cached_file):
        if is_offline():
            raise FileNotFoundError(f'plugtorch.hub: {ENV_OFFLINE} is set and "{url}" is not in the cache '
                                    f"(no file {cached_file}); unset {ENV_OFFLINE} to download it, or copy "
                                    "the file there")
        os.makedirs(model_dir, exist_ok=True)
        waiting = f'plugtorch.hub: waiting for another process downloading "{url}" to {cached_file}'
        with FileLock(cached_file + ".lock", waiting):
            if not os.path.exists(cached_file):     # else the process we waited for saved it
                hash_prefix = _hash_prefix(filename) if check_hash else None
                sys.stdout.write(f'Downloading: "{url}" to {cached_file}\n')
                download_url_to_file(url, cached_file, hash_prefix, progress=progress)
    try:
        return serialization.load(cached_file, map_location=map_location, weights_only=weights_only)
    except RuntimeError as e:
        raise RuntimeError(f'{e}. The file came from "{url}": delete {cached_file} to download it '
                           "again") from e


def _hash_prefix(filename: str) -> str | None:
    match = HASH_REGEX.search(filename)
    if match is None or not match.group(1):
        warnings.warn(f'plugtorch.hub: check_hash=True, but the file name "{filename}" holds no SHA-256 '
                      "prefix (it should read name-<sha256 prefix>.ext), so the download is not checked",
                      stacklevel=3)
        return None
    return match.group(1)
