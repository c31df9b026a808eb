"""Every hub test runs with no proxy, CA-bundle or hub settings from the real environment, its
cache under tmp_path (never the user's), and servers on 127.0.0.1 ephemeral ports."""
import hashlib
import io
import os

import pytest

import plugtorch as pt
import plugtorch.hub
from tests.hub.servers import ForwardProxy, Origin
from tests.hub.worker import _CA_VARS, _PROXY_VARS

DATA = os.path.join(os.path.dirname(__file__), "data")
CA_FILE = os.path.join(DATA, "ca.pem")            # a test CA, and 127.0.0.1's certificate signed
SERVER_CERT = os.path.join(DATA, "server.pem")    # by it (key included; valid until 2126)


@pytest.fixture(autouse=True)
def hub_env(tmp_path, monkeypatch):
    for name in list(os.environ):
        if name.lower() in _PROXY_VARS or name in _CA_VARS or name.startswith("PLUGTORCH_"):
            monkeypatch.delenv(name)
    home = tmp_path / "cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.setattr(plugtorch.hub, "_hub_dir", None)
    return home


def checkpoint_bytes(state: dict) -> bytes:
    buf = io.BytesIO()
    pt.save(state, buf)
    return buf.getvalue()


STATE = {"weight": [[1.0, 2.0, 3.0], [4.0, -5.0, 6.5]], "bias": [0.25, -0.5]}


@pytest.fixture
def weights():
    """(file name with its SHA-256 prefix, bytes) of a small state dict."""
    data = checkpoint_bytes({k: pt.tensor(v) for k, v in STATE.items()})
    return f"mlp-{hashlib.sha256(data).hexdigest()[:10]}.safetensors", data


@pytest.fixture
def origin(weights):
    server = Origin()
    server.files[weights[0]] = weights[1]
    yield server
    server.stop()


@pytest.fixture
def tls_origin(weights):
    server = Origin(tls_certfile=SERVER_CERT)
    server.files[weights[0]] = weights[1]
    yield server
    server.stop()


@pytest.fixture
def proxy():
    server = ForwardProxy(caching=True)
    yield server
    server.stop()
