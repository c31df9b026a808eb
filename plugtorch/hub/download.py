"""Fetch a URL into a file: proxies, redirects, TLS, a progress bar, and never a partial file.

HTTP goes through the standard library's ``urllib``: an opener built per download reads
HTTP_PROXY/HTTPS_PROXY/NO_PROXY (``ProxyHandler`` with ``getproxies``, ``proxy_bypass``) at that
moment, follows redirects, and verifies TLS certificates against the system's authorities or
a bundle named by PLUGTORCH_HUB_CA_BUNDLE (then REQUESTS_CA_BUNDLE, then OpenSSL's own
SSL_CERT_FILE/SSL_CERT_DIR).

The body goes to a temporary file beside the destination (``.NAME.<random>.partial``), locked
while it is written; it replaces the destination only once every byte that Content-Length
announced has arrived and its SHA-256 matches ``hash_prefix``. A connection that closes early
looks to ``http.client`` like a clean end of data, so the byte count is what catches it.

>>> download_url_to_file("https://example.com/w-1a2b3c4d.safetensors", "/tmp/w.safetensors",
...                      hash_prefix="1a2b3c4d")    # doctest: +SKIP
"""
from __future__ import annotations

import glob
import hashlib
import http.client
import os
import secrets
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request

from plugtorch import __version__
from plugtorch.hub.file_lock import fcntl, is_locked_by_another

READ_CHUNK = 128 * 1024
TIMEOUT = 60.0          # seconds a connection attempt or one read may wait (not the whole download)
STALE_AFTER = 10.0      # seconds after which an unlocked .partial file is a dead download's leftover
ENV_OFFLINE = "PLUGTORCH_HUB_OFFLINE"
ENV_CA_BUNDLES = ("PLUGTORCH_HUB_CA_BUNDLE", "REQUESTS_CA_BUNDLE")
PROXY_HELP = "HTTP_PROXY, HTTPS_PROXY and NO_PROXY"


def download_url_to_file(url: str, dst, hash_prefix: str | None = None, progress: bool = True) -> None:
    """Download ``url`` to the path ``dst``, replacing it only with a complete file whose
    SHA-256 starts with ``hash_prefix`` (when given). A progress bar goes to stderr when
    ``progress``.

    >>> plugtorch.hub.download_url_to_file("https://example.com/w.safetensors",
    ...                                    "/tmp/w.safetensors")     # doctest: +SKIP
    """
    dst = os.path.abspath(os.path.expanduser(os.fspath(dst)))
    if is_offline():
        raise FileNotFoundError(f'plugtorch.hub: {ENV_OFFLINE} is set, so "{url}" was not downloaded '
                                f"to {dst}; unset {ENV_OFFLINE} to download it, or copy the file there")
    directory, base = os.path.split(dst)
    if not os.path.isdir(directory):
        raise FileNotFoundError(f'plugtorch.hub: cannot download "{url}" to {dst}: the directory '
                                f"{directory} does not exist; create it first")
    remove_stale_partials(directory, base)
    tmp, fd = _create_partial(directory, base)
    try:
        with os.fdopen(fd, "wb") as f:
            if fcntl is not None:
                fcntl.flock(f.fileno(), fcntl.LOCK_EX)     # "being written": see remove_stale_partials
            digest = _fetch(url, dst, f, progress)
            f.flush()
            os.fsync(f.fileno())
            if hash_prefix is not None:
                _check_hash(url, dst, hash_prefix, digest)
            os.replace(tmp, dst)      # still locked, so no cleaner can take it for a leftover
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def is_offline() -> bool:
    return os.environ.get(ENV_OFFLINE, "").strip().lower() in ("1", "true", "yes", "on")


def _create_partial(directory: str, base: str):
    while True:     # mode 0o666 with O_EXCL: the umask applies, as for a file open() creates
        tmp = os.path.join(directory, f".{base}.{secrets.token_hex(8)}.partial")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        except FileExistsError:
            continue


def remove_stale_partials(directory: str, base: str) -> None:
    """Delete what killed downloads of ``base`` left: .partial files no process holds locked."""
    if fcntl is None:
        return
    for path in glob.glob(os.path.join(glob.escape(directory), f".{glob.escape(base)}.*.partial")):
        try:
            if time.time() - os.stat(path).st_mtime < STALE_AFTER or is_locked_by_another(path):
                continue    # being written (a new file may not be locked yet: hence the age)
            os.unlink(path)
        except FileNotFoundError:
            pass


def _fetch(url: str, dst: str, f, progress: bool):
    """Write the body of ``url`` to ``f``; returns its SHA-256 hex digest."""
    sha256 = hashlib.sha256()
    with _open(url, dst) as response:
        expected = _content_length(response)
        received = 0
        from tqdm import tqdm
        with tqdm(total=expected, disable=not progress, unit="B", unit_scale=True, unit_divisor=1024) as bar:
            while True:
                try:
                    chunk = response.read(READ_CHUNK)
                except http.client.IncompleteRead as e:     # a chunked body cut short
                    raise _truncated(url, dst, received + len(e.partial), expected) from e
                except OSError as e:
                    raise urllib.error.URLError(
                        f'the connection broke after {received} bytes of "{url}" ({e}); nothing was saved '
                        f"to {dst}; download it again") from e
                if not chunk:
                    break
                f.write(chunk)
                sha256.update(chunk)
                received += len(chunk)
                bar.update(len(chunk))
    if expected is not None and received != expected:
        raise _truncated(url, dst, received, expected) from http.client.IncompleteRead(b"", expected - received)
    return sha256.hexdigest()


def _truncated(url, dst, received, expected) -> RuntimeError:
    return RuntimeError(f'plugtorch.hub: the download of "{url}" ended after {received} of '
                        f"{expected if expected is not None else 'its'} bytes (the connection closed "
                        f"early); nothing was saved to {dst}. Download it again; if this repeats, a "
                        f"proxy on the way ({PROXY_HELP}) or the server cuts the file short")


def _check_hash(url, dst, hash_prefix, digest) -> None:
    prefix = hash_prefix.lower()
    if not digest.startswith(prefix):
        raise RuntimeError(f'plugtorch.hub: invalid hash value for "{url}" (expected "{hash_prefix}", got '
                           f'"{digest[:len(prefix)]}"; SHA-256 {digest}); nothing was saved to {dst}. The '
                           "server or a caching proxy sent other bytes than the name promises: check the "
                           "URL, or clear the proxy's copy")


def _content_length(response) -> int | None:
    if isinstance(response, http.client.HTTPResponse):
        return response.length       # None when chunked or absent; read() counts it down
    try:
        return int(response.headers.get("Content-Length"))
    except (TypeError, ValueError):
        return None


def _open(url: str, dst: str):
    request = urllib.request.Request(url, headers={"User-Agent": f"plugtorch.hub/{__version__}"})
    opener = urllib.request.build_opener(urllib.request.ProxyHandler(),
                                         urllib.request.HTTPSHandler(context=tls_context()))
    try:
        response = opener.open(request, timeout=TIMEOUT)
    except urllib.error.HTTPError as e:
        e.close()
        raise urllib.error.HTTPError(e.url, e.code, f"{e.reason} for \"{url}\" (downloading to {dst}); "
                                     f"{_http_help(e.code)}", e.headers, None) from None
    except urllib.error.URLError as e:
        raise urllib.error.URLError(_unreachable(url, dst, e.reason)) from e
    except (OSError, http.client.HTTPException) as e:     # e.g. a timeout while reading the headers
        raise urllib.error.URLError(_unreachable(url, dst, e)) from e
    status = getattr(response, "status", 200)
    if status not in (200, 203):
        response.close()
        raise urllib.error.HTTPError(url, status, f"the server answered {status} instead of the whole "
                                     f"file for \"{url}\"; check the URL", response.headers, None)
    return response


def _http_help(code: int) -> str:
    if code == 407:
        return f"the proxy wants credentials: give them in the proxy URL ({PROXY_HELP}: http://user:password@host:port)"
    if code in (401, 403):
        return "the server refused access: check the URL and that the file is public"
    if code == 404:
        return "check the URL"
    return f"check the URL, and the proxy settings ({PROXY_HELP}) if one is in the way"


def _unreachable(url: str, dst: str, reason) -> str:
    if isinstance(reason, ssl.SSLCertVerificationError):
        host = urllib.parse.urlsplit(url).hostname
        return (f'cannot verify the TLS certificate of {host} for "{url}" ({reason.verify_message}); if '
                f"the server or a proxy uses a private certificate authority, set {ENV_CA_BUNDLES[0]} to "
                f"its CA bundle (a PEM file or a directory); nothing was saved to {dst}")
    return (f'cannot download "{url}" to {dst} ({reason}); check the network connection and the proxy '
            f"settings ({PROXY_HELP}), or copy the file to {dst} and set {ENV_OFFLINE}=1")


def tls_context() -> ssl.SSLContext:
    """Certificate verification on; the authorities from the first CA-bundle variable that is set."""
    for var in ENV_CA_BUNDLES:
        path = os.environ.get(var)
        if not path:
            continue
        try:
            if os.path.isdir(path):
                return ssl.create_default_context(capath=path)
            if os.path.isfile(path):
                return ssl.create_default_context(cafile=path)
        except ssl.SSLError as e:
            raise ssl.SSLError(f"{var}={path!r}: cannot load CA certificates from it ({e}); point it at "
                               "a PEM bundle of CA certificates, or unset it") from e
        raise FileNotFoundError(f"{var}={path!r} names no file or directory; point it at a PEM bundle "
                                "of CA certificates (or a directory of them), or unset it")
    return ssl.create_default_context()
