"""A child process that runs plugtorch.hub calls sent to it, for the cases one process cannot
show: proxy settings as a real program sees them (set before it starts: urllib's default
opener reads them once per process, so a test must not rely on changing them in-process),
concurrent downloads from two processes, and a download killed midway.

The parent writes one JSON command per line to the child's stdin; the child answers each with
one JSON line on its stdout (the library's own prints go to stderr, which the parent collects).
"""
from __future__ import annotations

import json
import os
import queue
import subprocess
import sys
import threading
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
_PROXY_VARS = ("http_proxy", "https_proxy", "no_proxy", "all_proxy", "ftp_proxy")
_CA_VARS = ("PLUGTORCH_HUB_CA_BUNDLE", "REQUESTS_CA_BUNDLE", "SSL_CERT_FILE", "SSL_CERT_DIR")


def clean_env(home: str, **extra: str) -> dict:
    """This process's environment without proxy, CA-bundle and hub settings, with
    PLUGTORCH_HOME at ``home`` (never the user's cache) and ``extra`` added."""
    env = {k: v for k, v in os.environ.items()
           if k.lower() not in _PROXY_VARS and k not in _CA_VARS and not k.startswith("PLUGTORCH_")}
    env.update(PLUGTORCH_HOME=home, XDG_CACHE_HOME=home, **extra)
    return env


class Worker:
    def __init__(self, env: dict):
        self.proc = subprocess.Popen([sys.executable, "-m", "tests.hub.worker"], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                     text=True, bufsize=1)
        self.replies: queue.Queue = queue.Queue()
        self.stderr: list[str] = []
        self._stderr_changed = threading.Condition()
        self._readers = [threading.Thread(target=self._read_stdout, daemon=True),
                         threading.Thread(target=self._read_stderr, daemon=True)]
        for t in self._readers:
            t.start()

    def _read_stdout(self):
        for line in self.proc.stdout:
            self.replies.put(json.loads(line))
        self.replies.put(None)

    def _read_stderr(self):
        for line in self.proc.stderr:
            with self._stderr_changed:
                self.stderr.append(line)
                self._stderr_changed.notify_all()

    def send(self, **command) -> None:
        self.proc.stdin.write(json.dumps(command) + "\n")
        self.proc.stdin.flush()

    def receive(self, timeout: float = 60) -> dict:
        reply = self.replies.get(timeout=timeout)
        if reply is None:
            raise AssertionError(f"the worker exited ({self.proc.wait()}): {''.join(self.stderr)}")
        return reply

    def call(self, **command) -> dict:
        self.send(**command)
        return self.receive()

    def wait_for_stderr(self, text: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        with self._stderr_changed:
            while not any(text in line for line in self.stderr):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"the worker never printed {text!r}: {''.join(self.stderr)}")
                self._stderr_changed.wait(min(left, 0.5))

    def close(self) -> None:
        self.proc.stdin.close()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        for t in self._readers:     # they end at the pipes' EOF
            t.join(10)
        self.proc.stdout.close()
        self.proc.stderr.close()


def main() -> None:
    reply_to = sys.stdout
    sys.stdout = sys.stderr         # "Downloading: ..." and progress bars stay out of the replies
    import plugtorch as pt
    for line in sys.stdin:
        command = json.loads(line)
        try:
            sd = pt.hub.load_state_dict_from_url(command["url"], model_dir=command.get("model_dir"),
                                                 check_hash=command.get("check_hash", False), progress=False)
            reply = {"ok": True, "state": {k: v.tolist() for k, v in sd.items()}}
        except Exception as e:      # noqa: BLE001 - the parent checks type and message
            reply = {"ok": False, "type": type(e).__name__, "message": str(e)}
        print(json.dumps(reply), file=reply_to, flush=True)


if __name__ == "__main__":
    main()
