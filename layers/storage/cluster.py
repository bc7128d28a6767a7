"""A project-local PostgreSQL + PostGIS cluster under ``.gridmap/``, with zero configuration.

``gridmap db up`` uses the system's PostgreSQL binaries (the newest major version that has PostGIS
installed, never a hard-coded one), creates the cluster the first time with a random password, picks
a free loopback port and starts it; running it again changes nothing. PostgreSQL refuses to run as
root, so when gridmap runs as root the cluster is owned and run by an unprivileged user
(``GRIDMAP_PG_USER``, default ``postgres``); an ordinary user runs it as themselves.

The cluster listens on 127.0.0.1 only (no Unix socket, whose path length and permissions vary) and
authenticates with SCRAM; the password lives in ``.gridmap/cluster.json`` (mode 0600).
"""

from __future__ import annotations

import hashlib
import json
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import psycopg

DB_NAME = "gridmap"
DB_USER = "gridmap"
_DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")


class ClusterError(RuntimeError):
    """Something about the local cluster needs the user's attention; the message says what."""


@dataclass(frozen=True)
class ClusterStatus:
    running: bool
    initialised: bool
    datadir: Path
    port: int | None
    major: int | None
    url: str | None


def find_bindir(configured: Path | None = None) -> Path:
    """The PostgreSQL bin directory to use: configured, else the newest major with PostGIS."""
    if configured is not None:
        if not (configured / "pg_ctl").exists():
            raise ClusterError(f"GRIDMAP_PG_BINDIR={configured} has no pg_ctl")
        return configured
    majors = sorted(
        (int(p.name) for p in _DEBIAN_PG_ROOT.glob("*") if p.name.isdigit()), reverse=True
    )
    if not majors:
        raise ClusterError(
            "no PostgreSQL server found under /usr/lib/postgresql: install it with "
            "`apt-get install postgresql postgresql-<major>-postgis-3` (scripts/bootstrap.sh does)"
        )
    for major in majors:
        if Path(f"/usr/share/postgresql/{major}/extension/postgis.control").exists():
            return _DEBIAN_PG_ROOT / str(major) / "bin"
    raise ClusterError(
        f"PostgreSQL {majors[0]} is installed but PostGIS is not: "
        f"`apt-get install postgresql-{majors[0]}-postgis-3`"
    )


def bindir_major(bindir: Path) -> int:
    out = subprocess.run([str(bindir / "pg_ctl"), "--version"], capture_output=True, text=True)
    match = re.search(r"(\d+)(?:\.\d+)?", out.stdout)
    if not match:
        raise ClusterError(f"cannot read the PostgreSQL version from {bindir / 'pg_ctl'}")
    return int(match.group(1))


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def pick_free_port(preferred: int = 54329) -> int:
    for port in [preferred, *range(preferred + 1, preferred + 200)]:
        if port_is_free(port):
            return port
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LocalCluster:
    """One cluster in one home directory; all operations are idempotent."""

    def __init__(self, home: Path, bindir: Path | None = None, pg_user: str = "postgres"):
        self.home = Path(home).resolve()
        self._bindir = bindir
        self.run_as = pg_user if os.geteuid() == 0 else None
        self.state_file = self.home / "cluster.json"
        self.orphaned: Path | None = None

    # -- state ---------------------------------------------------------------------------------
    def _state(self) -> dict:
        if self.state_file.exists():
            return json.loads(self.state_file.read_text())
        return {}

    def _save_state(self, state: dict) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        tmp = self.state_file.with_suffix(".tmp")
        tmp.write_text(json.dumps(state, indent=2))
        tmp.chmod(0o600)
        tmp.replace(self.state_file)

    @property
    def bindir(self) -> Path:
        state = self._state()
        if self._bindir is None and state.get("bindir") and Path(state["bindir"]).exists():
            return Path(state["bindir"])
        return find_bindir(self._bindir)

    @property
    def datadir(self) -> Path:
        state = self._state()
        if state.get("datadir"):
            return Path(state["datadir"])
        return self._choose_datadir()

    def _choose_datadir(self) -> Path:
        """``home/pgdata``, unless the unprivileged owner cannot reach it (e.g. under /root)."""
        inside = self.home / "pgdata"
        if self.run_as is None or self._user_can_enter(self.run_as, self.home):
            return inside
        digest = hashlib.sha256(str(self.home).encode()).hexdigest()[:10]
        return Path("/var/tmp") / f"gridmap-pg-{digest}" / "pgdata"

    def _user_can_enter(self, user: str, path: Path) -> bool:
        self.home.mkdir(parents=True, exist_ok=True)
        result = subprocess.run(
            ["runuser", "-u", user, "--", "test", "-x", str(path)], capture_output=True
        )
        return result.returncode == 0

    # -- commands run as the cluster owner -----------------------------------------------------
    def _run(self, args: Sequence[str | int | os.PathLike[str]], check: bool = True,
             env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self.run_as is not None:
            try:
                pwd.getpwnam(self.run_as)
            except KeyError:
                raise ClusterError(
                    f"running as root, but the user {self.run_as!r} that should own the cluster "
                    "does not exist: install PostgreSQL (creates 'postgres') or set GRIDMAP_PG_USER"
                ) from None
            cmd = ["runuser", "-u", self.run_as, "--", *cmd]
        result = subprocess.run(cmd, capture_output=True, text=True, cwd="/",
                                env={**os.environ, **env} if env else None)
        if check and result.returncode != 0:
            raise ClusterError(f"{' '.join(cmd)} failed:\n{result.stdout}{result.stderr}")
        return result

    def _chown(self, path: Path) -> None:
        if self.run_as is not None:
            info = pwd.getpwnam(self.run_as)
            os.chown(path, info.pw_uid, info.pw_gid)

    # -- lifecycle -----------------------------------------------------------------------------
    @property
    def initialised(self) -> bool:
        return (self.datadir / "PG_VERSION").exists()

    def is_running(self) -> bool:
        return self._running(self.datadir)

    # the primary and the replica are two data directories run the same way
    def _running(self, datadir: Path) -> bool:
        if not (datadir / "PG_VERSION").exists():
            return False
        return self._run([self.bindir / "pg_ctl", "status", "-D", datadir], False).returncode == 0

    def _start(self, datadir: Path, state: dict, holder: dict) -> None:
        """Start the server in ``datadir`` on ``holder["port"]`` (``state`` itself for the
        primary, its ``replica`` entry for the replica) — moved to a free port, and saved, when
        something else took that one since."""
        if not port_is_free(holder["port"]):
            holder["port"] = pick_free_port(holder["port"] + 1)
            self._save_state(state)
        self._write_conf(holder["port"], datadir)
        self._run([self.bindir / "pg_ctl", "start", "-D", datadir, "-l", datadir / "server.log",
                   "-w", "-t", "60"])

    def _stop(self, datadir: Path) -> bool:
        if not self._running(datadir):
            return False
        self._run([self.bindir / "pg_ctl", "stop", "-D", datadir, "-m", "fast", "-w"])
        return True

    def init(self) -> None:
        if not self._state() and (self._choose_datadir() / "PG_VERSION").exists():
            self._set_aside_orphan(self._choose_datadir())
        if self.initialised:
            major = int((self.datadir / "PG_VERSION").read_text().strip())
            if major != bindir_major(self.bindir):
                raise ClusterError(
                    f"the cluster in {self.datadir} is PostgreSQL {major} but the binaries in "
                    f"{self.bindir} are {bindir_major(self.bindir)}: set GRIDMAP_PG_BINDIR to "
                    f"/usr/lib/postgresql/{major}/bin, or remove {self.datadir} to start afresh"
                )
            return
        bindir = self.bindir
        datadir = self._choose_datadir()
        password = secrets.token_urlsafe(24)
        datadir.parent.mkdir(parents=True, exist_ok=True)
        if datadir.exists():
            shutil.rmtree(datadir)  # a half-made cluster from an interrupted init
        datadir.mkdir(mode=0o700)
        self._chown(datadir)
        pwfile = datadir.parent / f".pw-{secrets.token_hex(4)}"
        pwfile.write_text(password + "\n")
        pwfile.chmod(0o600)
        self._chown(pwfile)
        try:
            self._run([bindir / "initdb", "-D", datadir, "-U", DB_USER, f"--pwfile={pwfile}",
                       "--auth=scram-sha-256", "--encoding=UTF8", "--locale=C.UTF-8"])
        finally:
            pwfile.unlink(missing_ok=True)
        self._save_state({"bindir": str(bindir), "datadir": str(datadir), "password": password,
                          "port": pick_free_port(), "major": bindir_major(bindir)})

    def _set_aside_orphan(self, datadir: Path) -> None:
        """A data directory without our state file (``.gridmap/`` was deleted, or the repository
        was cloned again at the same path): its password is lost, so stop it and keep it aside
        rather than delete anybody's data."""
        self._run([self.bindir / "pg_ctl", "stop", "-D", datadir, "-m", "fast", "-w"], check=False)
        aside = datadir.with_name(f"{datadir.name}.orphan-{time.strftime('%Y%m%d%H%M%S')}")
        datadir.rename(aside)
        self.orphaned = aside

    def _write_conf(self, port: int, datadir: Path | None = None) -> None:
        datadir = datadir or self.datadir
        conf = datadir / "gridmap.conf"
        conf.write_text(
            "# written by gridmap db up; edits are overwritten\n"
            f"port = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\n"
            "fsync = on\nshared_buffers = '512MB'\nwork_mem = '32MB'\nmax_connections = 100\n"
        )
        self._chown(conf)
        main_conf = datadir / "postgresql.conf"
        text = main_conf.read_text()
        if "include_if_exists = 'gridmap.conf'" not in text:
            main_conf.write_text(text + "\ninclude_if_exists = 'gridmap.conf'\n")

    def up(self) -> str:
        """Create (first time) and start the cluster and its database; return the URL."""
        self.init()
        state = self._state()
        if not self.is_running():
            self._start(self.datadir, state, state)
        self._ensure_database(state)
        return self.url()

    def down(self) -> bool:
        """Stop the cluster; False if it was not running."""
        return self._stop(self.datadir)

    def destroy(self) -> None:
        """Stop and delete the cluster (used by the test suite's throwaway clusters)."""
        if self._state().get("replica"):
            self.replica_destroy()
        self.down()
        datadir = self.datadir
        if datadir.exists():
            shutil.rmtree(datadir, ignore_errors=True)
        self.state_file.unlink(missing_ok=True)

    def _ensure_database(self, state: dict) -> None:
        deadline = time.monotonic() + 30
        while True:
            try:
                with psycopg.connect(self._dsn(state, "postgres"), autocommit=True) as conn:
                    exists = conn.execute(
                        "SELECT 1 FROM pg_database WHERE datname = %s", (DB_NAME,)
                    ).fetchone()
                    if not exists:
                        conn.execute(f'CREATE DATABASE "{DB_NAME}"')
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)

    @staticmethod
    def _dsn(state: dict, dbname: str) -> str:
        return (f"host=127.0.0.1 port={state['port']} dbname={dbname} user={DB_USER} "
                f"password={state['password']} connect_timeout=5")

    def url(self, dbname: str = DB_NAME) -> str:
        state = self._state()
        if not state:
            raise ClusterError("no local cluster yet: run `gridmap db up`")
        return (f"postgresql+psycopg://{DB_USER}:{state['password']}@127.0.0.1:{state['port']}/"
                f"{dbname}")

    # -- a streaming replica on loopback (read scale-out; docs/scaling.md) ------------------------
    @property
    def replica_datadir(self) -> Path:
        state = self._state().get("replica") or {}
        return Path(state["datadir"]) if state.get("datadir") else self.datadir.parent / "replica"

    def replica_running(self) -> bool:
        return self._running(self.replica_datadir)

    def replica_up(self) -> str:
        """Make (first time: ``pg_basebackup`` of the running cluster, streaming its WAL) and
        start a hot standby of the local cluster on its own loopback port; return its URL.
        Idempotent. The primary needs nothing new: PostgreSQL's defaults (``wal_level=replica``,
        ten WAL senders, replication allowed from 127.0.0.1 for the cluster's superuser) serve."""
        self.up()
        state = self._state()
        replica = state.get("replica") or {}
        datadir = self.replica_datadir
        if not (datadir / "PG_VERSION").exists():
            if datadir.exists():
                shutil.rmtree(datadir)  # a half-made copy from an interrupted run
            datadir.mkdir(mode=0o700, parents=True)  # empty, the cluster owner's: filled below
            self._chown(datadir)
            self._run([self.bindir / "pg_basebackup", "-h", "127.0.0.1", "-p", state["port"],
                       "-U", DB_USER, "-D", datadir, "-R", "-X", "stream", "-c", "fast",
                       "--no-password"], env={"PGPASSWORD": state["password"]})
            replica = {"datadir": str(datadir), "port": pick_free_port(state["port"] + 1)}
            state["replica"] = replica
            self._save_state(state)
        if not self.replica_running():
            self._start(datadir, state, replica)
        return self.replica_url()

    def replica_lag(self) -> tuple[bool, float]:
        """(whether the replica is a hot standby, seconds since the last transaction it
        replayed) — asked of the replica itself."""
        import psycopg

        with psycopg.connect(self.replica_url().replace("+psycopg", ""), connect_timeout=5) as conn:
            row = conn.execute(
                "SELECT pg_is_in_recovery(), EXTRACT(EPOCH FROM now() - "
                "pg_last_xact_replay_timestamp())").fetchone()
            assert row is not None  # a SELECT without FROM returns one row
            standby, lag = row
        return bool(standby), float(lag or 0)

    def replica_down(self) -> bool:
        return self._stop(self.replica_datadir)

    def replica_destroy(self) -> None:
        """Stop the replica and delete its copy (the primary is untouched)."""
        self.replica_down()
        shutil.rmtree(self.replica_datadir, ignore_errors=True)
        state = self._state()
        if state.pop("replica", None) is not None:
            self._save_state(state)

    def replica_url(self, dbname: str = DB_NAME) -> str:
        state = self._state()
        if not state.get("replica"):
            raise ClusterError("no replica yet: run `gridmap db replica up`")
        return (f"postgresql+psycopg://{DB_USER}:{state['password']}@127.0.0.1:"
                f"{state['replica']['port']}/{dbname}")

    def status(self) -> ClusterStatus:
        state = self._state()
        initialised = bool(state) and self.initialised
        return ClusterStatus(
            running=initialised and self.is_running(),
            initialised=initialised,
            datadir=self.datadir,
            port=state.get("port"),
            major=state.get("major"),
            url=self.url() if state else None,
        )


def local_cluster(settings=None) -> LocalCluster:
    from gridmap.settings import get_settings

    settings = settings or get_settings()
    return LocalCluster(settings.home, settings.pg_bindir, settings.pg_user)


def database_url(settings=None) -> str:
    """The SQLAlchemy URL gridmap uses: the configured one, else the local cluster's."""
    from gridmap.settings import get_settings

    settings = settings or get_settings()
    if settings.database_url:
        return settings.database_url
    return local_cluster(settings).url()
