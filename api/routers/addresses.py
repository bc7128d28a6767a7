"""The standard-address gazetteer, edited one address at a time (``/v1/addresses``): staff read
it, a street's dispatcher (inside their scope) and the admin change it — also from the page
/desk/addresses, with its sign-in cookie and CSRF token. Every change is audited and rebuilds
every process's gazetteer. The domain is layers/addresses/edits.py."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query, Response
from pydantic import BaseModel, Field

from api.deps import SessionDep, allowed
from layers.addresses import edits

router = APIRouter(prefix="/v1", tags=["addresses"])
AddressCode = Annotated[str, Path(max_length=40, description="the standard address's code")]
Reader = allowed("address.read", cookie=True)
Writer = allowed("address.write", cookie=True)


class AddressIn(BaseModel):
    """A standard address's parts (GB/T 23705): what is sent is set; on PATCH, the rest stays."""

    kind: Literal["building", "compound", "place"] | None = Field(
        default=None, description="building | compound | place (required to create)")
    address: str | None = Field(default=None, max_length=300,
                                description="the whole standard address, as written")
    name: str | None = Field(default=None, max_length=200)
    street: str | None = Field(default=None, max_length=100, description="街道/镇")
    community: str | None = Field(default=None, max_length=100, description="社区/村")
    road: str | None = Field(default=None, max_length=100, description="路/街/巷")
    door_plate: str | None = Field(default=None, max_length=20, description="门牌号: 12 or 12-3")
    compound: str | None = Field(default=None, max_length=100, description="小区")
    building: str | None = Field(default=None, max_length=20, description="楼号")
    building_code: str | None = Field(default=None, max_length=40,
                                      description="the building it addresses (kind building)")
    place_kind: str | None = Field(default=None, max_length=40,
                                   description="school, hospital, market, park, gate, bus_stop …")
    aliases: list[Annotated[str, Field(max_length=50)]] | None = Field(
        default=None, max_length=20, description="other names: older, common, short (the whole list)")
    lon: float | None = None
    lat: float | None = None
    crs: str = Field(default="wgs84", max_length=20, description="wgs84 | gcj02 | bd09 | EPSG:n")


class AddressCreate(AddressIn):
    code: str | None = Field(default=None, max_length=40, pattern=r"^[A-Za-z0-9_.-]+$",
                             description="default: the next SA0000001")


def _data(body: AddressIn) -> edits.AddressData:
    return edits.AddressData(**body.model_dump(exclude={"code"}, exclude_unset=True))


@router.get("/addresses", summary="Standard addresses whose address, name or other names contain q")
def list_addresses(
    session: SessionDep, who: Reader,
    q: Annotated[str | None, Query(max_length=100)] = None,
    kind: Annotated[Literal["building", "compound", "place"] | None, Query()] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
) -> list[dict]:
    return edits.search(session, q, kind, limit, who.scope_code)


@router.get("/addresses/{code}", summary="One standard address with its parts and grid")
def get_address(code: AddressCode, session: SessionDep, who: Reader) -> dict:
    return edits.get(session, code, who)


@router.post("/addresses", status_code=201, summary="Add a standard address (audited)")
def create_address(body: AddressCreate, session: SessionDep, who: Writer) -> dict:
    created = edits.create(session, who, body.code, _data(body))
    return created


@router.patch("/addresses/{code}", summary="Change a standard address's parts or other names")
def update_address(code: AddressCode, body: AddressIn, session: SessionDep,
                   who: Writer) -> dict:
    updated = edits.update(session, who, code, _data(body))
    return updated


@router.delete("/addresses/{code}", status_code=204, summary="Remove a standard address (audited)")
def delete_address(code: AddressCode, session: SessionDep, who: Writer) -> Response:
    edits.delete(session, who, code)
    return Response(status_code=204)
