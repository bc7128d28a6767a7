"""Photos attached to a case (before/after a repair, proof of a visit): checked, stored, served."""

from __future__ import annotations

import hashlib

from sqlalchemy.orm import Session

from layers.cases.workflow import CaseError
from layers.storage.models import Case, Photo

MAX_PHOTO_BYTES = 5 * 1024 * 1024
PHOTO_TYPES = {"image/jpeg": (b"\xff\xd8\xff",), "image/png": (b"\x89PNG\r\n\x1a\n",),
               "image/webp": (b"RIFF",)}


class PhotoTooLarge(CaseError):
    code = "photo_too_large"


class UnsupportedPhoto(CaseError):
    code = "unsupported_photo"


class PhotoNotFound(CaseError):
    code = "photo_not_found"


def attach(session: Session, case: Case, data: bytes, content_type: str | None) -> Photo:
    """Store a photo on a case (the caller commits); ``data`` may be one byte over the limit, so
    that a reader can stop at MAX_PHOTO_BYTES + 1 and still be refused."""
    if len(data) > MAX_PHOTO_BYTES:
        raise PhotoTooLarge("photos may be at most 5 MB", zh="照片不能超过 5 MB")
    content_type = (content_type or "").lower()
    if content_type not in PHOTO_TYPES or not data.startswith(PHOTO_TYPES[content_type]):
        raise UnsupportedPhoto("send a JPEG, PNG or WebP image", zh="仅支持 JPEG、PNG、WebP 图片")
    photo = Photo(case_id=case.id, content_type=content_type, size=len(data),
                  sha256=hashlib.sha256(data).hexdigest(), data=data)
    session.add(photo)
    session.flush()
    return photo


def get(session: Session, case: Case, photo_id: int) -> Photo:
    photo = session.get(Photo, photo_id)
    if photo is None or photo.case_id != case.id:
        raise PhotoNotFound("no such photo on this case", zh="未找到该照片")
    return photo


def as_json(photo: Photo) -> dict:
    return {"id": photo.id, "size": photo.size, "content_type": photo.content_type,
            "sha256": photo.sha256}
