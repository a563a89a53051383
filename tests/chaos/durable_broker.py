"""A Tansu broker whose storage survives a restart of the broker process.

The session broker (:class:`streams.broker.EmbeddedBroker`) keeps everything in memory,
so stopping it loses every topic. This Tansu build's only persistent storage engine is
``s3://`` (its ``--help`` lists ``dynostore``; ``file://`` is "UnsupportedStorageUrl",
``sqlite://`` "FeatureNotEnabled libsql"). So a local S3 endpoint (the ``moto`` server,
a dev dependency) holds the broker's storage, and the broker process can be stopped
and started again on the same port with its topics, records and committed offsets
intact: a broker restart, as an SRE would do it, with nothing lost on the broker side.

Both processes are started and stopped by pid.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from confluent_kafka import KafkaException
from confluent_kafka.admin import AdminClient

from streams.broker import find_free_port, resolve_broker_binary
from streams.process import stop_process

__all__ = ["DurableBroker"]

_BUCKET = "tansu"


class DurableBroker:
    """Tansu on ``127.0.0.1:<port>`` with its storage in a local S3 server (moto)."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = find_free_port()
        self.s3_port = find_free_port()
        self._s3: subprocess.Popen[bytes] | None = None
        self._broker: subprocess.Popen[bytes] | None = None
        self._logs: list[IO[bytes]] = []

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def broker_pid(self) -> int | None:
        return self._broker.pid if self._broker is not None else None

    def __enter__(self) -> Self:
        self.workdir.mkdir(parents=True, exist_ok=True)
        log = self._log("s3.log")
        self._s3 = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.s3_port)],
            stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 30
        while True:
            try:
                req = urllib.request.Request(f"http://127.0.0.1:{self.s3_port}/{_BUCKET}", method="PUT")
                with urllib.request.urlopen(req, timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or self._s3.poll() is not None:
                    self.close()
                    log_file = self.workdir / 's3.log'
                    raise RuntimeError(f"local S3 server did not start (log: {log_file})") from None
                time.sleep(0.1)
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _log(self, name: str) -> IO[bytes]:
        fh = open(self.workdir / name, "ab")  # noqa: SIM115 - closed in close()
        self._logs.append(fh)
        return fh

    def start(self, timeout: float = 20) -> None:
        """Start the broker process (again) on the same port and wait for metadata."""
        assert self._broker is None, "broker already running"
        url = f"tcp://127.0.0.1:{self.port}"
        env = {"PATH": os.environ.get("PATH", ""), "NO_COLOR": "1",
               "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
               "AWS_DEFAULT_REGION": "us-east-1", "AWS_ENDPOINT": f"http://127.0.0.1:{self.s3_port}",
               "AWS_ALLOW_HTTP": "true"}
        self._broker = subprocess.Popen(
            [resolve_broker_binary(), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", f"s3://{_BUCKET}/"],
            stdin=subprocess.DEVNULL, stdout=self._log("tansu.log"), stderr=subprocess.STDOUT,
            env=env, start_new_session=True)
        admin = AdminClient({"bootstrap.servers": self.bootstrap_servers})
        deadline = time.monotonic() + timeout
        while True:
            try:
                admin.list_topics(timeout=1)
                return
            except KafkaException:
                if time.monotonic() > deadline or self._broker.poll() is not None:
                    raise RuntimeError(f"broker did not start (log: {self.workdir / 'tansu.log'})") from None
                time.sleep(0.1)

    def stop(self) -> None:
        """Stop the broker process (SIGINT: Tansu exits at once); storage stays."""
        process, self._broker = self._broker, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGINT)
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()

    def close(self) -> None:
        self.stop()
        if self._s3 is not None:
            stop_process(self._s3, timeout=10)
            self._s3 = None
        for fh in self._logs:
            fh.close()
        self._logs.clear()
