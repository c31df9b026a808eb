"""plugtorch.hub in one process: cache directories, downloads from a local server, the cache,
hashes, truncated bodies, redirects, offline mode, TLS, errors and map_location."""
import hashlib
import http.client
import os
import threading
import time
import urllib.error

import pytest

import plugtorch as pt
import plugtorch.hub
from plugtorch.hub import download
from plugtorch.hub.file_lock import FileLock
from tests.hub.conftest import CA_FILE, STATE, checkpoint_bytes


def _checkpoints(home) -> str:
    return os.path.join(home, "plugtorch", "hub", "checkpoints")


def _assert_state(sd, device="cpu"):
    assert sorted(sd) == sorted(STATE)
    for k, v in STATE.items():
        assert sd[k].device.type == device
        assert sd[k].tolist() == v


# ---- where the cache lives ----------------------------------------------------------------
def test_get_dir_follows_xdg_cache_home(hub_env):
    assert pt.hub.get_dir() == os.path.join(hub_env, "plugtorch", "hub")


def test_get_dir_follows_plugtorch_home(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGTORCH_HOME", str(tmp_path / "ph"))
    assert pt.hub.get_dir() == os.path.join(tmp_path, "ph", "hub")


def test_get_dir_defaults_to_home_cache(tmp_path, monkeypatch):
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path))
    assert pt.hub.get_dir() == os.path.join(tmp_path, ".cache", "plugtorch", "hub")
    monkeypatch.setenv("XDG_CACHE_HOME", "")      # empty means unset (XDG base directory spec)
    assert pt.hub.get_dir() == os.path.join(tmp_path, ".cache", "plugtorch", "hub")
    monkeypatch.setenv("PLUGTORCH_HOME", "~/ph")
    assert pt.hub.get_dir() == os.path.join(tmp_path, "ph", "hub")


def test_set_dir_wins_and_expands_user(tmp_path, monkeypatch, origin, weights):
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("PLUGTORCH_HOME", str(tmp_path / "ignored"))
    pt.hub.set_dir("~/myhub")
    assert pt.hub.get_dir() == os.path.join(tmp_path, "myhub")
    pt.hub.set_dir(tmp_path / "pathlike")
    assert pt.hub.get_dir() == os.path.join(tmp_path, "pathlike")
    pt.hub.load_state_dict_from_url(origin.url(f"/files/{weights[0]}"), progress=False)
    assert os.listdir(tmp_path / "pathlike" / "checkpoints") == [weights[0]]


# ---- download and cache ----------------------------------------------------------------------
def test_download_then_cache_hit_with_server_stopped(hub_env, origin, weights):
    name, data = weights
    url = origin.url(f"/files/{name}")
    _assert_state(pt.hub.load_state_dict_from_url(url, progress=False))
    assert origin.requests == [f"/files/{name}"]
    with open(os.path.join(_checkpoints(hub_env), name), "rb") as f:
        assert f.read() == data
    _assert_state(pt.hub.load_state_dict_from_url(url, progress=False, check_hash=True))
    assert origin.count == 1                    # no request for a cached file
    origin.stop()
    _assert_state(pt.hub.load_state_dict_from_url(url, progress=False))
    assert os.listdir(_checkpoints(hub_env)) == [name]      # no .partial, no .lock left


def test_model_dir_and_file_name(tmp_path, origin, weights):
    url = origin.url(f"/files/{weights[0]}")
    sd = pt.hub.load_state_dict_from_url(url, model_dir=tmp_path / "m", file_name="mine.safetensors",
                                         progress=False)
    _assert_state(sd)
    assert os.listdir(tmp_path / "m") == ["mine.safetensors"]


def test_url_without_a_file_name(origin):
    with pytest.raises(ValueError, match=r"has no file name .*file_name="):
        pt.hub.load_state_dict_from_url(origin.url("/files/"), progress=False)
    assert origin.count == 0


def test_redirect_is_followed(hub_env, origin, weights):
    name = weights[0]
    _assert_state(pt.hub.load_state_dict_from_url(origin.url(f"/redirect/{name}"), progress=False))
    assert origin.requests == [f"/redirect/{name}", f"/files/{name}"]
    assert os.listdir(_checkpoints(hub_env)) == [name]


def test_progress_bar_and_message(capsys, origin, weights):
    url = origin.url(f"/files/{weights[0]}")
    pt.hub.load_state_dict_from_url(url)
    out, err = capsys.readouterr()
    assert f'Downloading: "{url}" to ' in out
    assert f"{len(weights[1])}/{len(weights[1])}" in err      # tqdm's bar reached the full size


# ---- hashes -----------------------------------------------------------------------------------
def test_check_hash_accepts_the_right_file(hub_env, origin, weights):
    _assert_state(pt.hub.load_state_dict_from_url(origin.url(f"/files/{weights[0]}"), check_hash=True,
                                                  progress=False))


def test_hash_mismatch_raises_and_leaves_nothing(hub_env, origin):
    other = checkpoint_bytes({"weight": pt.zeros(3)})
    actual = hashlib.sha256(other).hexdigest()
    expected = "0123abcd" if not actual.startswith("0123abcd") else "4567abcd"
    name = f"mlp-{expected}.safetensors"
    origin.files[name] = other
    url = origin.url(f"/files/{name}")
    with pytest.raises(RuntimeError) as info:
        pt.hub.load_state_dict_from_url(url, check_hash=True, progress=False)
    message = str(info.value)
    assert f'expected "{expected}", got "{actual[:8]}"' in message
    assert url in message and os.path.join(_checkpoints(hub_env), name) in message
    assert os.listdir(_checkpoints(hub_env)) == []
    # without check_hash the same file is accepted, as in PyTorch
    assert pt.hub.load_state_dict_from_url(url, progress=False)["weight"].tolist() == [0.0, 0.0, 0.0]


def test_check_hash_without_a_hash_in_the_name_warns(origin, weights):
    origin.files["plain.safetensors"] = weights[1]
    with pytest.warns(UserWarning, match=r'"plain.safetensors" holds no SHA-256 prefix'):
        _assert_state(pt.hub.load_state_dict_from_url(origin.url("/files/plain.safetensors"),
                                                      check_hash=True, progress=False))


def test_hash_regex_is_pytorchs():
    assert pt.hub.HASH_REGEX.search("resnet18-5c106cde.pth").group(1) == "5c106cde"
    assert pt.hub.HASH_REGEX.search("my-model-abc123.safetensors").group(1) == "abc123"
    assert pt.hub.HASH_REGEX.search("model.safetensors") is None


def test_download_url_to_file_hash_prefix(tmp_path, origin, weights):
    name, data = weights
    dst = tmp_path / "w.bin"
    pt.hub.download_url_to_file(origin.url(f"/files/{name}"), str(dst), hash_prefix=name[4:14].upper(),
                                progress=False)
    assert dst.read_bytes() == data
    dst.write_bytes(b"previous")
    with pytest.raises(RuntimeError, match='expected "ffff"'):
        pt.hub.download_url_to_file(origin.url(f"/files/{name}"), dst, hash_prefix="ffff", progress=False)
    assert dst.read_bytes() == b"previous"         # a failed download never replaces the file
    assert os.listdir(tmp_path) == ["w.bin"]


def test_download_into_a_missing_directory(tmp_path, origin, weights):
    with pytest.raises(FileNotFoundError, match=r"the directory .*nowhere does not exist; create it"):
        pt.hub.download_url_to_file(origin.url(f"/files/{weights[0]}"), tmp_path / "nowhere" / "w.bin",
                                    progress=False)
    assert origin.count == 0


# ---- bodies cut short -------------------------------------------------------------------------
@pytest.mark.parametrize("kind", ["truncated", "chunked-cut"])
def test_truncated_body_leaves_nothing(hub_env, origin, weights, kind):
    name, data = weights
    url = origin.url(f"/{kind}/{name}")
    with pytest.raises(RuntimeError, match=r"ended after \d+ of") as info:
        pt.hub.load_state_dict_from_url(url, progress=False)
    assert url in str(info.value) and "nothing was saved" in str(info.value)
    assert isinstance(info.value.__cause__, http.client.IncompleteRead)
    if kind == "truncated":
        assert f"after {len(data) // 2} of {len(data)} bytes" in str(info.value)
    assert os.listdir(_checkpoints(hub_env)) == []
    _assert_state(pt.hub.load_state_dict_from_url(origin.url(f"/files/{name}"), progress=False))


def test_truncated_download_keeps_the_old_file(tmp_path, origin, weights):
    dst = tmp_path / "w.safetensors"
    dst.write_bytes(b"old")
    with pytest.raises(RuntimeError, match="ended after"):
        pt.hub.download_url_to_file(origin.url(f"/truncated/{weights[0]}"), dst, progress=False)
    assert dst.read_bytes() == b"old"
    assert os.listdir(tmp_path) == ["w.safetensors"]


def test_stale_partials_are_removed_live_ones_kept(tmp_path, origin, weights):
    name = weights[0]
    stale = tmp_path / f".{name}.dead.partial"
    fresh = tmp_path / f".{name}.new.partial"
    locked = tmp_path / f".{name}.busy.partial"
    for p in (stale, fresh, locked):
        p.write_bytes(b"half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(locked, (old, old))
    with FileLock(str(locked)):     # FileLock deletes its file on release: the test recreates none
        pt.hub.load_state_dict_from_url(origin.url(f"/files/{name}"), model_dir=tmp_path, progress=False)
        assert sorted(os.listdir(tmp_path)) == sorted([name, fresh.name, locked.name])


# ---- errors -----------------------------------------------------------------------------------
def test_http_error_names_url_and_file(hub_env, origin):
    url = origin.url("/files/missing.safetensors")
    with pytest.raises(urllib.error.HTTPError) as info:
        pt.hub.load_state_dict_from_url(url, progress=False)
    assert info.value.code == 404
    assert url in str(info.value) and "missing.safetensors" in str(info.value) and "check the URL" in str(info.value)
    assert os.listdir(_checkpoints(hub_env)) == []


def test_unreachable_server_names_url_file_and_fix(hub_env, origin, weights):
    url = origin.url(f"/files/{weights[0]}")
    origin.stop()
    with pytest.raises(urllib.error.URLError) as info:
        pt.hub.load_state_dict_from_url(url, progress=False)
    message = str(info.value)
    assert url in message and weights[0] in message
    assert "HTTPS_PROXY" in message and "PLUGTORCH_HUB_OFFLINE=1" in message
    assert os.listdir(_checkpoints(hub_env)) == []


def test_damaged_cached_file_names_url(tmp_path, origin):
    (tmp_path / "bad.safetensors").write_bytes(b"not a checkpoint")
    url = origin.url("/files/bad.safetensors")
    with pytest.raises(RuntimeError, match=r"cannot load .*bad.safetensors.*came from .*delete"):
        pt.hub.load_state_dict_from_url(url, model_dir=tmp_path, progress=False)
    assert origin.count == 0


# ---- offline ----------------------------------------------------------------------------------
def test_offline_uses_the_cache_only(hub_env, monkeypatch, origin, weights):
    url = origin.url(f"/files/{weights[0]}")
    monkeypatch.setenv("PLUGTORCH_HUB_OFFLINE", "1")
    with pytest.raises(FileNotFoundError, match=r"PLUGTORCH_HUB_OFFLINE is set .*not in the cache"):
        pt.hub.load_state_dict_from_url(url, progress=False)
    with pytest.raises(FileNotFoundError, match="PLUGTORCH_HUB_OFFLINE is set"):
        pt.hub.download_url_to_file(url, str(hub_env / "x"), progress=False)
    assert origin.count == 0
    monkeypatch.setenv("PLUGTORCH_HUB_OFFLINE", "0")
    pt.hub.load_state_dict_from_url(url, progress=False)
    monkeypatch.setenv("PLUGTORCH_HUB_OFFLINE", "true")
    _assert_state(pt.hub.load_state_dict_from_url(url, progress=False))
    assert origin.count == 1


# ---- devices ----------------------------------------------------------------------------------
@pytest.mark.parametrize("device", pt.backends.available())     # cpu, opencl, cuda, plug-ins
def test_map_location_to_each_device(origin, weights, device):
    url = origin.url(f"/files/{weights[0]}")
    _assert_state(pt.hub.load_state_dict_from_url(url, map_location=device, progress=False), device)
    _assert_state(pt.hub.load_state_dict_from_url(url, map_location=pt.device(device), progress=False), device)
    _assert_state(pt.hub.load_state_dict_from_url(url, map_location={"cpu": device}, progress=False), device)
    _assert_state(pt.hub.load_state_dict_from_url(url, map_location=lambda t, saved: t.to(device),
                                                  progress=False), device)
    assert origin.count == 1


# ---- TLS ----------------------------------------------------------------------------------------
def test_tls_verification_is_on(hub_env, tls_origin, weights):
    with pytest.raises(urllib.error.URLError, match=r"cannot verify the TLS certificate of 127.0.0.1.*"
                                                    r"PLUGTORCH_HUB_CA_BUNDLE"):
        pt.hub.load_state_dict_from_url(tls_origin.url(f"/files/{weights[0]}"), progress=False)
    assert os.listdir(_checkpoints(hub_env)) == []


@pytest.mark.parametrize("var", ["PLUGTORCH_HUB_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE"])
def test_ca_bundle_override(monkeypatch, tls_origin, weights, var):
    monkeypatch.setenv(var, CA_FILE)
    _assert_state(pt.hub.load_state_dict_from_url(tls_origin.url(f"/files/{weights[0]}"), progress=False))
    assert tls_origin.count == 1


def test_ca_bundle_directory_and_errors(tmp_path, monkeypatch):
    monkeypatch.setenv("PLUGTORCH_HUB_CA_BUNDLE", str(tmp_path / "nope.pem"))
    with pytest.raises(FileNotFoundError, match="PLUGTORCH_HUB_CA_BUNDLE=.*nope.pem.* names no file"):
        download.tls_context()
    (tmp_path / "junk.pem").write_text("junk")
    monkeypatch.setenv("PLUGTORCH_HUB_CA_BUNDLE", str(tmp_path / "junk.pem"))
    with pytest.raises(OSError, match="cannot load CA certificates"):
        download.tls_context()
    monkeypatch.setenv("PLUGTORCH_HUB_CA_BUNDLE", str(tmp_path))
    assert download.tls_context().verify_mode.name == "CERT_REQUIRED"


# ---- the lock file ------------------------------------------------------------------------------
def test_file_lock_makes_the_second_holder_wait(tmp_path, capfd):
    path = str(tmp_path / "f.lock")
    order, got = [], threading.Event()

    def second():
        with FileLock(path, "waiting for the first"):
            order.append("second")
            got.set()

    with FileLock(path):
        t = threading.Thread(target=second)
        t.start()
        deadline = time.monotonic() + 30
        while "waiting for the first" not in capfd.readouterr().err:
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert not got.is_set()
        order.append("first")
    t.join(30)
    assert order == ["first", "second"]
    assert os.listdir(tmp_path) == []       # the lock file goes with the last holder
