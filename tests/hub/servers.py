"""A weight server and a forward proxy on 127.0.0.1 ephemeral ports, each in a thread, counting
the requests they get.

The origin serves ``files`` (name -> bytes) under several paths:

    /files/NAME      the file, with Content-Length
    /redirect/NAME   302 to /files/NAME
    /truncated/NAME  Content-Length N, then N // 2 bytes and a normal close
    /chunked-cut/NAME  chunked encoding, the first half as one chunk, then a close
    /gated/NAME      half the file, then waits for ``release`` before sending the rest
                     (``half_sent`` is set once the first half is out)

The proxy handles absolute-URI GETs (optionally keeping a copy of each 200 answer, as a caching
proxy does) and CONNECT tunnels for https.
"""
from __future__ import annotations

import http.client
import http.server
import selectors
import socket
import ssl
import threading
import urllib.parse


class _Server:
    def __init__(self, handler, tls_certfile=None):
        self.requests: list[str] = []
        self._lock = threading.Lock()
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.owner = self
        self.scheme = "http"
        if tls_certfile is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls_certfile)
            self.httpd.socket = ctx.wrap_socket(self.httpd.socket, server_side=True)
            self.scheme = "https"
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                       daemon=True)
        self.thread.start()
        self.running = True

    def record(self, what: str) -> None:
        with self._lock:
            self.requests.append(what)

    @property
    def count(self) -> int:
        with self._lock:
            return len(self.requests)

    def stop(self) -> None:
        if self.running:
            self.running = False
            self.httpd.shutdown()
            self.httpd.server_close()


class Origin(_Server):
    def __init__(self, tls_certfile=None):
        self.files: dict[str, bytes] = {}
        self.release = threading.Event()
        self.half_sent = threading.Event()
        super().__init__(_OriginHandler, tls_certfile)

    def url(self, path: str, host: str = "127.0.0.1") -> str:
        return f"{self.scheme}://{host}:{self.port}{path}"

    def stop(self) -> None:
        self.release.set()
        super().stop()


class _Quiet(http.server.BaseHTTPRequestHandler):
    def log_message(self, *args):     # keep the test output clean
        pass


class _OriginHandler(_Quiet):
    def do_GET(self):
        origin: Origin = self.server.owner
        origin.record(self.path)
        kind, _, name = self.path.lstrip("/").partition("/")
        data = origin.files.get(name)
        if data is None:
            self.send_error(404, "Not Found")
            return
        if kind == "redirect":
            self.send_response(302)
            self.send_header("Location", f"/files/{name}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        half = len(data) // 2
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        if kind == "chunked-cut":
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            self.wfile.write(b"%x\r\n%s\r\n" % (half, data[:half]))
            return          # closes without the last chunk
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        if kind == "files":
            self.wfile.write(data)
        elif kind == "truncated":
            self.wfile.write(data[:half])      # then a normal close: http.client sees a clean end
        elif kind == "gated":
            self.wfile.write(data[:half])
            self.wfile.flush()
            origin.half_sent.set()
            if origin.release.wait(30):
                try:
                    self.wfile.write(data[half:])
                except OSError:     # the client was killed meanwhile
                    pass


class ForwardProxy(_Server):
    def __init__(self, caching: bool = False):
        self.caching = caching
        self.cache: dict[str, tuple[int, list, bytes]] = {}
        super().__init__(_ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


_HOP_BY_HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer",
               "upgrade", "proxy-authorization", "proxy-authenticate", "content-length"}


class _ProxyHandler(_Quiet):
    def do_GET(self):
        proxy: ForwardProxy = self.server.owner
        proxy.record(f"GET {self.path}")
        if proxy.caching and self.path in proxy.cache:
            self._answer(*proxy.cache[self.path])
            return
        target = urllib.parse.urlsplit(self.path)     # a proxy gets the absolute URI
        if target.scheme != "http" or not target.hostname:
            self.send_error(400, "Bad Request", "a forward proxy needs an absolute http URI")
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in _HOP_BY_HOP}
        conn = http.client.HTTPConnection(target.hostname, target.port or 80, timeout=30)
        try:
            conn.request("GET", target.path + (f"?{target.query}" if target.query else ""), headers=headers)
            response = conn.getresponse()
            answer = (response.status, [(k, v) for k, v in response.getheaders()
                                        if k.lower() not in _HOP_BY_HOP], response.read())
        except (OSError, http.client.HTTPException) as e:
            self.send_error(502, "Bad Gateway", str(e))
            return
        finally:
            conn.close()
        if proxy.caching and answer[0] == 200:
            proxy.cache[self.path] = answer
        self._answer(*answer)

    def _answer(self, status, headers, body):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_CONNECT(self):
        proxy: ForwardProxy = self.server.owner
        proxy.record(f"CONNECT {self.path}")
        host, _, port = self.path.rpartition(":")
        try:
            upstream = socket.create_connection((host, int(port)), timeout=30)
        except (OSError, ValueError) as e:
            self.send_error(502, "Bad Gateway", str(e))
            return
        self.send_response(200, "Connection established")
        self.end_headers()
        self.wfile.flush()
        _pump(self.connection, upstream)
        self.close_connection = True


def _pump(a: socket.socket, b: socket.socket) -> None:
    """Copy bytes both ways until either side closes."""
    with selectors.DefaultSelector() as sel, b:
        sel.register(a, selectors.EVENT_READ, b)
        sel.register(b, selectors.EVENT_READ, a)
        while True:
            for key, _ in sel.select(timeout=30):
                try:
                    data = key.fileobj.recv(65536)
                    if not data:
                        return
                    key.data.sendall(data)
                except OSError:
                    return
