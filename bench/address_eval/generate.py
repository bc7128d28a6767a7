"""``generate``: read the truth from a database and write the held-out sets."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import make_url

from bench.address_eval import sets, truth
from layers import clock

NOTES = (
    "Truth: every building's grid is the active generation's grid that ST_Covers its "
    "ST_PointOnSurface (lowest code on an edge); a site's likewise; an organisation's is its "
    "building's; an area's grids are the grids whose code begins with its code.",
    "Sites carry no door plate in this data (their address is street + community), so places "
    "by door plate are the register's organisations (实有单位) at their building's door plate.",
    "The data has no stations or markets among the sites; landmarks are the kinds it holds.",
)


def generate(database_url: str, out: Path, *, seed: int = 21, standard: int = 1000,
             per_form: int = 150) -> dict:
    t = truth.read(database_url, seed)
    built, numerals = sets.build(t, seed, sets.Sizes(standard=standard, per_form=per_form))
    url = make_url(database_url)
    manifest = {
        "made": clock.now().isoformat(timespec="seconds"),
        "seed": seed, "standard": standard, "per_form": per_form,
        "database": f"{url.host}:{url.port}/{url.database}",
        "generation": t.generation, "truth_fingerprint": t.fingerprint(),
        "district": {"code": t.district.code, "name": t.district.name},
        "data": {"buildings": len(t.buildings), "compounds": len(t.compounds()),
                 "village_houses": sum(b.is_village_house for b in t.buildings),
                 "sites": len(t.sites), "organisations": len(t.organisations),
                 "grids": sum(a.level == "grid" for a in t.areas.values())},
        "numeral_names": numerals,
        "notes": list(NOTES),
    }
    sets.write(out, built, manifest)
    return manifest
