"""Photos attached to a case (before/after a repair, proof of a visit): checked, stored, served.

A photo is what its *content* is, not what its name, declared type or first bytes claim: Pillow
must decode it as the declared format (a WAV file starts with RIFF like WebP; an HTML page can
begin with JPEG's magic bytes). The API serves photos with ``nosniff`` so a browser never
second-guesses the type either."""

from __future__ import annotations

import hashlib
import io

from PIL import Image, UnidentifiedImageError
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from layers.access import audit
from layers.access.policy import Principal
from layers.cases.workflow import CaseError
from layers.storage.models import Case, Photo

MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg": "JPEG", "image/png": "PNG", "image/webp": "WEBP"}  # → Pillow format
# served with every photo (a case's or a visit's): no type guessing, nothing run if opened as a page
SAFE_HEADERS = {"X-Content-Type-Options": "nosniff", "Content-Security-Policy": "default-src 'none'"}


class PhotoTooLarge(CaseError):
    code = "photo_too_large"


class UnsupportedPhoto(CaseError):
    code = "unsupported_photo"


class PhotoNotFound(CaseError):
    code = "photo_not_found"


def checked(data: bytes, content_type: str | None, **owner) -> Photo:
    """A photo for ``owner`` (case_id= or visit_id=), once the bytes are an image of the type they
    are sent as; ``data`` may be one byte over the limit, so that a reader can stop at
    MAX_PHOTO_BYTES + 1 and still be refused."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge("photos may be at most 5 MB", zh="照片不能超过 5 MB")
    content_type = (content_type or "").lower()
    if content_type not in PHOTO_TYPES or _format_of(data) != PHOTO_TYPES[content_type]:
        raise UnsupportedPhoto("send a JPEG, PNG or WebP image (the file must really be one, of "
                               "the type it is sent as)", zh="仅支持 JPEG、PNG、WebP 图片")
    return Photo(content_type=content_type, size=len(data),
                 sha256=hashlib.sha256(data).hexdigest(), data=data, **owner)


def attach(session: Session, case: Case, data: bytes, content_type: str | None, *,
           by: Principal | None = None) -> tuple[Photo, bool]:
    """Store a photo on a case (the caller commits); (the photo, created). The same photo sent
    again — a phone resending its queue — answers the one stored the first time."""
    photo, created = stored(session, checked(data, content_type, case_id=case.id))
    if not created:
        return photo, False
    if by is not None:
        audit.record(session, by, "case.photo", case.case_no, photo=photo.id, sha256=photo.sha256)
    return photo, True


def stored(session: Session, photo: Photo) -> tuple[Photo, bool]:
    """The photo stored for its owner (case or visit), or the one already stored with the same
    content; (the photo, created). Two uploads of the same bytes at once both end here: the
    unique index (owner, sha256) lets one insert, the other answers the photo it stored."""
    owner = (Photo.case_id == photo.case_id) if photo.case_id is not None else (
        Photo.visit_id == photo.visit_id)
    same = select(Photo).where(owner, Photo.sha256 == photo.sha256).order_by(Photo.id)
    found = session.scalars(same).first()
    if found is not None:
        return found, False
    try:
        with session.begin_nested():  # a savepoint: losing the race keeps the transaction
            session.add(photo)
    except IntegrityError:
        found = session.scalars(same).first()
        if found is None:  # not a duplicate: some other constraint, let the caller see it
            raise
        return found, False
    return photo, True


def _format_of(data: bytes) -> str | None:
    """The image format Pillow decodes the bytes as, or None if they are no image."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            image.verify()
            return image.format
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        return None


def get(session: Session, case: Case, photo_id: int) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None or photo.case_id != case.id:
        raise PhotoNotFound("no such photo on this case", zh="未找到该照片")
    return photo


def as_json(photo: Photo) -> dict:
    return {"id": photo.id, "size": photo.size, "content_type": photo.content_type,
            "sha256": photo.sha256}
