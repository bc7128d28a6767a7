"""`gridmap db up/status/url/down`: a project-local cluster, idempotent, as an unprivileged user."""

import os
import subprocess
import tempfile
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url

from layers.storage.cluster import ClusterError, LocalCluster, bindir_major, find_bindir, port_is_free
from tests.support import PATIENCE_S

pytestmark = pytest.mark.process  # each test starts PostgreSQL clusters

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def home():
    path = Path(tempfile.mkdtemp(prefix="gridmap-cluster-test-"))
    path.chmod(0o755)
    yield path
    LocalCluster(path).destroy()


def _gridmap(home: Path, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env["GRIDMAP_HOME"] = str(home)
    return subprocess.run([str(ROOT / ".venv" / "bin" / "gridmap"), *args], env=env,
                          capture_output=True, text=True, timeout=PATIENCE_S)


def test_the_newest_installed_postgresql_with_postgis_is_detected():
    bindir = find_bindir()
    assert (bindir / "pg_ctl").exists()
    major = bindir_major(bindir)
    assert major >= 12 and str(major) in str(bindir)


def test_status_before_up_says_how_to_start(home):
    result = _gridmap(home, "db", "status")
    assert result.returncode == 3 and "gridmap db up" in result.stdout


def test_up_twice_keeps_one_cluster_on_one_port(home):
    first = _gridmap(home, "db", "up")
    assert first.returncode == 0, first.stderr
    url = _gridmap(home, "db", "url").stdout.strip()
    again = _gridmap(home, "db", "up")
    assert again.returncode == 0, again.stderr
    assert _gridmap(home, "db", "url").stdout.strip() == url
    with psycopg.connect(make_url(url).set(drivername="postgresql")
                         .render_as_string(hide_password=False)) as conn:
        assert conn.execute("SELECT current_database()").fetchone()[0] == "gridmap"
        conn.execute("CREATE EXTENSION IF NOT EXISTS postgis")


def test_status_reports_running_and_reachable(home):
    _gridmap(home, "db", "up")
    result = _gridmap(home, "db", "status")
    assert result.returncode == 0
    assert "running" in result.stdout and "reachable" in result.stdout


def test_the_cluster_is_not_run_by_root(home):
    _gridmap(home, "db", "up")
    cluster = LocalCluster(home)
    owner = (cluster.datadir / "PG_VERSION").owner()
    assert owner != "root"


def test_down_then_up_restarts_with_the_same_data(home):
    assert _gridmap(home, "db", "down").returncode == 0
    assert "stopped" in _gridmap(home, "db", "status").stdout
    port = make_url(_gridmap(home, "db", "url").stdout.strip()).port
    assert port_is_free(port)
    assert _gridmap(home, "db", "up").returncode == 0
    assert not port_is_free(port)


def test_a_cluster_of_another_major_version_is_refused_with_advice(home, tmp_path):
    cluster = LocalCluster(home)
    version_file = cluster.datadir / "PG_VERSION"
    real = version_file.read_text()
    try:
        version_file.write_text("9\n")
        with pytest.raises(ClusterError, match="GRIDMAP_PG_BINDIR"):
            cluster.init()
    finally:
        version_file.write_text(real)


def test_external_database_url_wins_over_the_local_cluster(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("GRIDMAP_")}
    env["GRIDMAP_DATABASE_URL"] = "postgresql+psycopg://u:p@db.example:5432/gm"
    env["GRIDMAP_HOME"] = str(tmp_path)
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "gridmap"), "db", "url"], env=env,
                         capture_output=True, text=True)
    assert out.stdout.strip() == "postgresql+psycopg://u:p@db.example:5432/gm"


def test_a_data_directory_left_without_its_state_is_set_aside_not_reused(tmp_path):
    home = Path(tempfile.mkdtemp(prefix="gridmap-orphan-test-"))
    home.chmod(0o755)
    try:
        assert _gridmap(home, "db", "up").returncode == 0
        (home / "cluster.json").unlink()  # as if .gridmap/ had been deleted or re-cloned
        again = _gridmap(home, "db", "up")
        assert again.returncode == 0, again.stderr
        assert "kept in" in again.stderr
        assert list(home.glob("pgdata.orphan-*"))
        assert "reachable" in _gridmap(home, "db", "status").stdout
    finally:
        LocalCluster(home).destroy()
        for orphan in home.glob("pgdata.orphan-*"):
            subprocess.run(["rm", "-rf", str(orphan)])
