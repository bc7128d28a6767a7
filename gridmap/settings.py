"""Settings, read from the environment with the ``GRIDMAP_`` prefix (and an optional .env file).

Small classes per concern, as tipg does; ``get_settings()`` is cached so every layer sees one
instance. This module is a leaf: it imports nothing from gridmap's own packages.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PROJECT_ROOT = Path(__file__).resolve().parents[1]


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="GRIDMAP_", env_file=".env", extra="ignore")

    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of an external PostGIS; unset means the project-local cluster.",
    )
    database_read_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of a streaming replica (`gridmap db replica up` makes one "
                    "of the local cluster): locator rebuilds, maps, tiles, OGC API and case "
                    "statistics read there; writes, audited reads and LISTEN stay on the "
                    "primary. Unset: everything on the primary.",
    )
    home: Path = Field(
        default=PROJECT_ROOT / ".gridmap",
        description="Where the local cluster and other runtime state live.",
    )
    pg_bindir: Path | None = Field(
        default=None, description="PostgreSQL binaries; default: newest installed with PostGIS."
    )
    pg_user: str = Field(
        default="postgres",
        description="Unprivileged OS user that runs the local cluster when gridmap runs as root.",
    )
    host: str = "127.0.0.1"
    port: int = 8000
    district_code: str = Field(default="370811", description="GB/T 2260 code of the district.")
    boundaries_dir: Path = PROJECT_ROOT / "data" / "boundaries"
    basemap_url: str | None = Field(
        default=None, description="Tile URL template of a basemap; unset: none (offline).")
    basemap_datum: str = Field(
        default="wgs84", description="wgs84 (OSM-style, Tianditu/CGCS2000) or gcj02 (Amap, "
                                     "Tencent): then overlays are shifted to line up.")
    basemap_attribution: str = ""
    warm_maps: bool = Field(default=True, description="Pre-build map pages after start and "
                                                      "after every data change.")
    escalation_interval_s: float = Field(
        default=60, description="How often the API escalates overdue cases; 0 turns it off.")
    resident_requests_per_minute: int = Field(
        default=30, description="Rate limit of the public resident lookup, per client address "
                                "(shared by every API process through PostgreSQL).")
    resident_contacts_per_minute: int = Field(
        default=6, description="How many times a minute one client may reveal a grid worker's "
                               "work phone on the resident page (shared, audited).")
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="Addresses or CIDR ranges of reverse proxies whose X-Forwarded-For is "
                    "believed (e.g. [\"127.0.0.1\"] behind a local nginx); empty: the peer "
                    "address is the client, X-Forwarded-For is ignored.")
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest request body read, before any parsing.")
    max_batch_rows: int = Field(default=200_000, description="Most rows in one batch request.")
    plan_snap_m: float = Field(
        default=2.0, description="Planning: a redrawn grid's vertices within this many metres of a "
                                 "neighbour's snap to it, so shared edges stay shared.")
    plan_tolerance_m: float = Field(
        default=1.0, description="Planning: gaps and overlaps thinner than this are not reported.")
    norm_urban_households: tuple[int, int] = Field(
        default=(300, 500), description="Households per urban grid (one full-time worker).")
    norm_urban_residents: tuple[int, int] = Field(
        default=(600, 1500), description="Residents per urban grid (the norm speaks of ~1,000).")
    norm_rural_households: tuple[int, int] = Field(
        default=(100, 600), description="Households per rural grid (usually one village).")
    norm_rural_residents: tuple[int, int] = Field(
        default=(200, 2000), description="Residents per rural grid.")
    token_days: int = Field(
        default=365, description="Lifetime of a new API credential in days; 0: no expiry.")
    register_key: str | None = Field(
        default=None, repr=False,
        description="Master key of the register's personal data (32 bytes, URL-safe base64; "
                    "`gridmap register keygen`). Unset: read from register_key_file. Never "
                    "commit it; without it the encrypted ID and phone numbers cannot be read.")
    register_key_file: Path | None = Field(
        default=None, description="File holding the register key when GRIDMAP_REGISTER_KEY is "
                                  "unset; default: <home>/register.key (owner-only, 0600).")
    access_log: bool = Field(
        default=True, description="One JSON line per request on standard error (request id, "
                                  "method, route, status, duration, client).")
    patrol_reach_m: float = Field(
        default=30.0, description="A road or back alley counts as patrolled where it lies within "
                                  "this many metres of a patrol track.")
    patrol_max_speed_ms: tuple[float, float] = Field(
        default=(3.0, 8.0), description="Fastest plausible speed (m/s) walking and cycling: a GPS "
                                        "point that would need more is a spike and is dropped.")
    visit_distance_m: float = Field(
        default=200.0, description="A care visit logged farther than this from the dwelling's "
                                   "building is flagged for review (not refused).")

    @property
    def key_file(self) -> Path:
        return self.register_key_file or self.home / "register.key"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
