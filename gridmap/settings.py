"""Settings, read from the environment with the ``GRIDMAP_`` prefix (and an optional .env file).

Small classes per concern, as tipg does; ``get_settings()`` is cached so every layer sees one
instance. This module is a leaf: it imports nothing from gridmap's own packages.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pydantic import Field, field_validator
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
    locator_wait_s: float = Field(
        default=30, description="How long a request that needs the locator waits for the "
                                "process's first build before it is answered 503 "
                                "locator_not_ready (/readyz says when it is built).")
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
    cors_origins: list[str] = Field(
        default_factory=list,
        description="Origins (scheme://host[:port]) whose pages may call every route with "
                    "credentials, e.g. [\"https://gis.example.gov.cn\"]; any origin may read the "
                    "public tiles and OGC collections without a credential (api/cors.py).")
    max_body_bytes: int = Field(
        default=20 * 1024 * 1024, description="Largest request body read, before any parsing.")
    max_batch_rows: int = Field(default=200_000, description="Most rows in one batch request.")
    # resource bounds (layers/limits.py): each refusal names the setting that raises it
    max_vertices: int = Field(
        default=20_000, ge=4, description="Most vertices of one geometry a request or an import "
                                          "may send (a task's area, a plan's grid or split line, "
                                          "an imported feature): more is refused (413) naming "
                                          "this limit, before any geometry work.")
    max_area_km2: float = Field(
        default=2_500.0, description="Largest polygon (km²) a request may send; the district is "
                                     "about 890 km².")
    max_track_points: int = Field(default=50_000, description="Most points of one patrol track.")
    max_coverage_grids: int = Field(
        default=300, description="Most grids one patrol-coverage question may span (a street "
                                 "has about 70): the whole district at once is refused.")
    statement_timeout_read_ms: int = Field(
        default=15_000, description="Longest SQL statement of a GET request (ms); past it the "
                                    "query is cancelled and the request refused (422).")
    statement_timeout_write_ms: int = Field(
        default=60_000, description="Longest SQL statement of a POST/PUT/DELETE request (ms).")
    statement_timeout_background_ms: int = Field(
        default=300_000, description="Longest SQL statement of the API's own background work "
                                     "(page builds, locator rebuilds, escalation), in ms.")
    import_max_bytes: int = Field(
        default=200 * 1024 * 1024, description="Largest file an import reads (register, layers).")
    import_max_rows: int = Field(default=2_000_000, description="Most rows of one imported file.")
    import_max_columns: int = Field(default=200, description="Most columns of one imported file.")
    import_max_unpacked_bytes: int = Field(
        default=1024 * 1024 * 1024, description="Most bytes a zipped import (.xlsx) may unpack "
                                                "to; a zip bomb is refused before it is opened.")
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
    session_hours: float = Field(
        default=12, description="How long a page sign-in (the staff maps, the phone page) lasts; "
                                "signing out, or disabling or rotating the credential, ends it "
                                "sooner.")
    auth_failures_per_minute: int = Field(
        default=10, description="Failed sign-ins and unknown tokens allowed per client address "
                                "and minute (shared by every API process); beyond that: 429.")
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
    visit_backfill_hours: float = Field(
        default=72, description="A care visit may be recorded up to this many hours after it "
                                "took place (a phone offline over a weekend); older dates and "
                                "future ones are refused, so no month is back-filled.")
    visit_distance_m: float = Field(
        default=200.0, description="A care visit logged farther than this from the dwelling's "
                                   "building is flagged for review (not refused).")

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, origins: list[str]) -> list[str]:
        for origin in origins:
            if not re.fullmatch(r"https?://[A-Za-z0-9.\-\[\]:]+", origin.rstrip("/")):
                raise ValueError(f"{origin!r} is not an origin: write scheme://host[:port], e.g. "
                                 "https://gis.example.gov.cn (no path; '*' is the default for "
                                 "the public resources already)")
        return [o.rstrip("/") for o in origins]

    @property
    def key_file(self) -> Path:
        return self.register_key_file or self.home / "register.key"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
