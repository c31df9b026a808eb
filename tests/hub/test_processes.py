"""plugtorch.hub seen from other processes: proxies set in the environment before a program
starts, two processes downloading one file at once, and a download killed midway."""
import os
import signal
import time

import pytest

import plugtorch as pt
import plugtorch.hub  # noqa: F401

from tests.hub.conftest import CA_FILE, STATE
from tests.hub.worker import Worker, clean_env


@pytest.fixture
def workers(tmp_path):
    started = []

    def start(**env):
        w = Worker(clean_env(str(tmp_path / "home"), **env))
        started.append(w)
        return w
    yield start
    for w in started:
        w.close()


def _ok(reply):
    assert reply["ok"], reply
    assert reply["state"] == STATE


def test_through_a_caching_proxy(tmp_path, workers, origin, tls_origin, proxy, weights):
    name = weights[0]
    w = workers(HTTP_PROXY=proxy.url, HTTPS_PROXY=proxy.url, NO_PROXY="localhost,.internal",
                PLUGTORCH_HUB_CA_BUNDLE=CA_FILE)
    url = origin.url(f"/files/{name}")
    _ok(w.call(url=url, model_dir=str(tmp_path / "server1")))
    assert proxy.requests == [f"GET {url}"] and origin.requests == [f"/files/{name}"]
    _ok(w.call(url=url, model_dir=str(tmp_path / "server1")))
    assert proxy.count == 1 and origin.count == 1           # from the cache: no request at all
    # a second machine behind the same proxy: the proxy answers, the origin sees nothing
    _ok(w.call(url=url, model_dir=str(tmp_path / "server2")))
    assert proxy.count == 2 and origin.count == 1
    # a redirect goes through the proxy too, and its target is the proxy's cached copy
    _ok(w.call(url=origin.url(f"/redirect/{name}"), model_dir=str(tmp_path / "server3")))
    assert proxy.requests[2:] == [f"GET {origin.url(f'/redirect/{name}')}", f"GET {url}"]
    assert origin.count == 2
    # https through the proxy is a CONNECT tunnel, the certificate checked against the CA bundle
    _ok(w.call(url=tls_origin.url(f"/files/{name}"), model_dir=str(tmp_path / "server4"), check_hash=True))
    assert proxy.requests[4:] == [f"CONNECT 127.0.0.1:{tls_origin.port}"] and tls_origin.count == 1
    # a host NO_PROXY lists is reached directly (the same server, named localhost)
    _ok(w.call(url=origin.url(f"/files/{name}", host="localhost"), model_dir=str(tmp_path / "server5")))
    assert proxy.count == 5 and origin.count == 3


def test_proxy_that_is_down_names_the_proxy_variables(tmp_path, workers, origin, weights):
    w = workers(http_proxy="http://127.0.0.1:9")     # lower case works too; port 9 (discard) is closed
    reply = w.call(url=origin.url(f"/files/{weights[0]}"), model_dir=str(tmp_path / "m"))
    assert reply["type"] == "URLError" and "HTTP_PROXY, HTTPS_PROXY and NO_PROXY" in reply["message"]
    assert origin.count == 0 and os.listdir(tmp_path / "m") == []


def test_two_processes_download_one_file_once(tmp_path, workers, origin, weights):
    name, data = weights
    first, second = workers(), workers()
    url, model_dir = origin.url(f"/gated/{name}"), str(tmp_path / "m")
    first.send(url=url, model_dir=model_dir)
    assert origin.half_sent.wait(60)                        # the first holds the lock, mid-download
    second.send(url=url, model_dir=model_dir)
    second.wait_for_stderr("waiting for another process downloading")
    origin.release.set()
    _ok(first.receive())
    _ok(second.receive())
    assert origin.count == 1
    assert os.listdir(model_dir) == [name]
    with open(os.path.join(model_dir, name), "rb") as f:
        assert f.read() == data
    assert "Downloading" not in "".join(second.stderr)     # the second one loaded the first one's file


def test_killed_download_leaves_nothing_in_the_cache(tmp_path, workers, origin, weights):
    name = weights[0]
    model_dir = tmp_path / "m"
    w = workers()
    w.send(url=origin.url(f"/gated/{name}"), model_dir=str(model_dir))
    assert origin.half_sent.wait(60)
    os.kill(w.proc.pid, signal.SIGKILL)
    w.proc.wait()
    left = sorted(os.listdir(model_dir))
    assert name not in left
    partials = [f for f in left if f.endswith(".partial")]
    assert len(partials) == 1 and set(left) <= {partials[0], f"{name}.lock"}
    old = time.time() - 3600        # the dead download's leftover, as it is some time later
    os.utime(model_dir / partials[0], (old, old))
    sd = pt.hub.load_state_dict_from_url(origin.url(f"/files/{name}"), model_dir=model_dir, progress=False)
    assert {k: v.tolist() for k, v in sd.items()} == STATE
    assert os.listdir(model_dir) == [name]
