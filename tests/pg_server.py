"""A throwaway PostgreSQL server for tests and benchmarks.

Each ``PostgresServer`` runs its own cluster in a fresh temporary directory, listening
only on 127.0.0.1 at a free port, and deletes everything on ``stop()``. The server
binaries come from the Debian ``postgresql`` package that ``scripts/bootstrap.sh --dev``
installs.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Self

import psycopg
from psycopg import sql

__all__ = ["PostgresServer", "find_postgres_bindir"]

DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
_SERVICE_USER = "postgres"
_LOG_TAIL_LINES = 40
_START_ATTEMPTS = 3
_DATABASE_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def find_postgres_bindir() -> Path:
    """Return the directory holding ``initdb`` and ``pg_ctl``.

    The highest version under ``/usr/lib/postgresql/*/bin`` wins, because Debian keeps
    ``initdb`` off PATH; otherwise the directory of ``pg_ctl`` on PATH is used.

    Raises:
        RuntimeError: no PostgreSQL server installation was found.
    """
    versioned: list[tuple[tuple[int, ...], Path]] = []
    if DEBIAN_PG_ROOT.is_dir():
        for candidate in DEBIAN_PG_ROOT.iterdir():
            bindir = candidate / "bin"
            if _has_server_tools(bindir) and re.fullmatch(r"\d+(\.\d+)*", candidate.name):
                versioned.append((tuple(int(p) for p in candidate.name.split(".")), bindir))
    if versioned:
        return max(versioned)[1]
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl is not None and _has_server_tools(Path(pg_ctl).parent):
        return Path(pg_ctl).parent
    raise RuntimeError(
        "PostgreSQL server binaries (initdb, pg_ctl) not found in "
        f"{DEBIAN_PG_ROOT}/*/bin or on PATH; run `scripts/bootstrap.sh --dev` to install them"
    )


def _has_server_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


def _service_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(_SERVICE_USER)
    except KeyError:
        raise RuntimeError(
            f"running as root needs the {_SERVICE_USER!r} system user, which the Debian "
            "postgresql package creates; run `scripts/bootstrap.sh --dev`"
        ) from None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class PostgresServer:
    """A private PostgreSQL server on 127.0.0.1, trust authentication, deleted on stop.

    Use as a context manager or call ``start()`` and ``stop()``; a server left running
    is stopped when the interpreter exits.

    Args:
        user: superuser name created by ``initdb`` (no password; trust authentication).
        database: database created at start; ``url`` points at it.
        options: extra server settings, passed as ``-c key=value``; fsync stays at the
            server default (on) unless overridden here.
        start_timeout: seconds to wait for the server to accept connections.
        base_dir: where the temporary directory is made (default: the system temp dir).
    """

    def __init__(
        self,
        *,
        user: str = "branchpoint",
        database: str = "branchpoint",
        options: Mapping[str, str] | None = None,
        start_timeout: float = 60.0,
        base_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self.user = user
        self.database = database
        self.options: dict[str, str] = dict(options or {})
        self.start_timeout = start_timeout
        self.host = "127.0.0.1"
        self._base_dir = base_dir
        self._port: int | None = None
        self._tmpdir: Path | None = None
        self._owner_pid: int | None = None
        self._bindir: Path | None = None
        self.startup_seconds: float | None = None
        """Wall time the last ``start()`` took, initdb included."""

    # -- lifecycle --------------------------------------------------------------------

    @property
    def running(self) -> bool:
        """Whether ``start()`` succeeded and ``stop()`` has not been called since."""
        return self._tmpdir is not None and self._port is not None

    def start(self) -> Self:
        """Create a cluster in a new temporary directory and start the server.

        Returns the server itself, so ``PostgresServer().start()`` can be assigned.

        Raises:
            RuntimeError: binaries missing, ``initdb`` failed, or the server did not
                come up; the message includes the tail of the server log.
        """
        if self.running:
            return self
        began = time.monotonic()
        self._bindir = find_postgres_bindir()
        self._tmpdir = Path(tempfile.mkdtemp(prefix="branchpoint-pg-", dir=self._base_dir))
        self._owner_pid = os.getpid()
        atexit.register(self._stop_at_exit)
        try:
            if os.geteuid() == 0:
                service = _service_user()
                os.chown(self._tmpdir, service.pw_uid, service.pw_gid)
            self._run_as_server_user(
                [
                    str(self._bindir / "initdb"),
                    "--pgdata", str(self.data_dir),
                    "--username", self.user,
                    "--auth", "trust",
                    "--encoding", "UTF8",
                    # C collation: no dependency on which locales the machine has built.
                    "--locale", "C",
                    # The cluster is deleted after the run; syncing its files is wasted time.
                    "--no-sync",
                ],
                "initdb",
            )
            self._start_server()
            self._create(self.database)
        except BaseException:
            self.stop()
            raise
        self.startup_seconds = time.monotonic() - began
        return self

    def stop(self) -> None:
        """Stop the server immediately (no checkpoint) and delete its directory.

        Safe to call more than once and on a server that never started.
        """
        atexit.unregister(self._stop_at_exit)
        tmpdir, self._tmpdir = self._tmpdir, None
        self._port = None
        self._owner_pid = None
        if tmpdir is None:
            return
        try:
            if (tmpdir / "data" / "postmaster.pid").exists() and self._bindir is not None:
                self._run_as_server_user(
                    [str(self._bindir / "pg_ctl"), "stop", "-D", str(tmpdir / "data"),
                     "-m", "immediate", "-w", "-t", "30"],
                    "pg_ctl stop",
                    log=tmpdir / "server.log",
                    check=False,
                )
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- connection details -----------------------------------------------------------

    @property
    def port(self) -> int:
        """TCP port the server listens on (127.0.0.1 only)."""
        if self._port is None or not self.running:
            raise RuntimeError("the PostgreSQL server is not running; call start() first")
        return self._port

    @property
    def url(self) -> str:
        """SQLAlchemy URL of the database created at start."""
        return self.url_for(self.database)

    def url_for(self, database: str) -> str:
        """SQLAlchemy URL (psycopg 3 driver) of ``database`` on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{database}"

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory."""
        return self._dir / "data"

    @property
    def log_path(self) -> Path:
        """The server's log file."""
        return self._dir / "server.log"

    def create_database(self, name: str) -> str:
        """Create an empty database ``name`` and return its SQLAlchemy URL.

        Raises:
            ValueError: ``name`` is not a plain lower-case identifier.
            psycopg.errors.DuplicateDatabase: it already exists.
        """
        self._create(name)
        return self.url_for(name)

    # -- internals --------------------------------------------------------------------

    @property
    def _dir(self) -> Path:
        if self._tmpdir is None:
            raise RuntimeError("the PostgreSQL server is not running; call start() first")
        return self._tmpdir

    def _create(self, name: str) -> None:
        # Names end up in URLs too, so keep them to what needs no quoting anywhere.
        if not _DATABASE_NAME.fullmatch(name):
            raise ValueError(f"database name must match {_DATABASE_NAME.pattern}: {name!r}")
        with psycopg.connect(
            host=self.host, port=self.port, user=self.user, dbname="postgres", autocommit=True
        ) as conn:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))

    def _start_server(self) -> None:
        assert self._bindir is not None
        for attempt in range(1, _START_ATTEMPTS + 1):
            port = _free_port()
            settings = {
                "listen_addresses": self.host,
                "port": str(port),
                "unix_socket_directories": str(self._dir),
                **self.options,
            }
            # pg_ctl hands -o to a shell, so every value is quoted for it.
            server_opts = " ".join(f"-c {shlex.quote(f'{k}={v}')}" for k, v in settings.items())
            try:
                self._run_as_server_user(
                    [str(self._bindir / "pg_ctl"), "start", "-D", str(self.data_dir),
                     "-l", str(self.log_path), "-w", "-t", str(round(self.start_timeout)),
                     "-o", server_opts],
                    "pg_ctl start",
                )
            except RuntimeError:
                # Another process may have taken the port between probing and binding.
                if attempt < _START_ATTEMPTS and "Address already in use" in self._log_tail():
                    continue
                raise
            self._port = port
            return

    def _run_as_server_user(
        self,
        argv: Sequence[str],
        what: str,
        *,
        log: Path | None = None,
        check: bool = True,
    ) -> None:
        cwd = self._tmpdir if self._tmpdir is not None else Path(tempfile.gettempdir())
        command = self._as_service_user(argv) if os.geteuid() == 0 else list(argv)
        result = subprocess.run(
            command, cwd=cwd, capture_output=True, text=True, stdin=subprocess.DEVNULL
        )
        if result.returncode != 0 and check:
            output = (result.stdout + result.stderr).strip()
            tail = self._log_tail(log)
            raise RuntimeError(
                f"{what} failed (exit {result.returncode}): {shlex.join(argv)}\n{output}"
                + (f"\n--- last {_LOG_TAIL_LINES} lines of the server log ---\n{tail}"
                   if tail else "")
            )

    @staticmethod
    def _as_service_user(argv: Sequence[str]) -> list[str]:
        # initdb and postgres refuse to run as root, so root hands them to `postgres`.
        runuser = shutil.which("runuser") or next(
            (p for p in ("/usr/sbin/runuser", "/sbin/runuser") if os.access(p, os.X_OK)), None
        )
        if runuser is not None:
            return [runuser, "-u", _SERVICE_USER, "--", *argv]
        return ["su", _SERVICE_USER, "-s", "/bin/sh", "-c", shlex.join(argv)]

    def _log_tail(self, log: Path | None = None) -> str:
        path = log or (self._tmpdir / "server.log" if self._tmpdir is not None else None)
        try:
            lines = path.read_text(errors="replace").splitlines() if path else []
        except OSError:
            return ""
        return "\n".join(lines[-_LOG_TAIL_LINES:])

    def _stop_at_exit(self) -> None:
        # A forked child inherits the atexit hook but must not stop its parent's server.
        if self._owner_pid == os.getpid():
            self.stop()
