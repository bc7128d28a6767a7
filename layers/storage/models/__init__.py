"""The PostGIS schema, as GeoAlchemy2 models, one module per concern; Alembic migrations in
layers/storage/migrations create it, and tests/test_migrations.py compares them with exactly this
metadata (every module below is imported here, so ``Base.metadata`` holds every table).

Boundaries (``areas``: district → street/town → community/village → grid) are versioned in
``generations`` as MapIt does: a planner edits a draft generation, publishing makes it active and
retires the previous one, and every lookup can name a date. Everything that is a fact on the ground
(buildings, alleys, roads, cameras, sites) is *not* versioned: which grid it lies in is a spatial
question answered for whichever generation is asked. Worker assignments refer to grids by their
national *code*, which survives redrawing, not by a row id of one generation.

Every geometry is stored in EPSG:4326 and has a GiST index.

- ``base``: the declarative base, SRID, the index and enum helpers
- ``boundaries``: generations, areas
- ``ground``: buildings, roads, alleys, cameras, sites, standard addresses
- ``staff``: workers and assignments, credentials, page sessions, audit, rate buckets
- ``cases``: routing, departments, categories, the working calendar, cases, events, photos
- ``planning``: plans, their history, planned assignments, units
- ``register``: building grids, dwellings, persons, organisations, visits
- ``field``: patrols, remote responses, task orders, assessment weights
"""

from __future__ import annotations

from layers.storage.models.base import (
    SRID,
    Base,
    _enum,
    _geom,
    _gist,
)
from layers.storage.models.boundaries import (
    LEVEL_ZH,
    PARENT_LEVEL,
    Area,
    AreaLevel,
    Generation,
    GenerationStatus,
    GridKind,
)
from layers.storage.models.cases import (
    Case,
    CaseEvent,
    CaseStatus,
    Category,
    Department,
    Holiday,
    Photo,
    RoutingVersion,
)
from layers.storage.models.field import (
    GRID_TASK_STATUSES,
    RESPONSE_OUTCOMES,
    AssessmentWeights,
    CaseResponse,
    GridTask,
    GridTaskEvent,
    Patrol,
    Task,
)
from layers.storage.models.ground import (
    ADDRESS_KINDS,
    Alley,
    Building,
    Camera,
    CameraKind,
    Road,
    Site,
    StandardAddress,
)
from layers.storage.models.planning import (
    PLAN_UNIT_IDS,
    Plan,
    PlanAssignment,
    PlanEvent,
    PlanEventGrid,
    PlanStatus,
    PlanUnit,
)
from layers.storage.models.register import (
    CARE_PREDICATE,
    CARE_TAGS,
    DWELLING_USES,
    BuildingGrid,
    Dwelling,
    Organisation,
    Person,
    Visit,
)
from layers.storage.models.staff import (
    GRID_WORKER_ROLES,
    AuditEntry,
    RateBucket,
    User,
    UserRole,
    WebSession,
    Worker,
    WorkerAssignment,
    WorkerRole,
)

__all__ = [
    "ADDRESS_KINDS",
    "CARE_PREDICATE",
    "CARE_TAGS",
    "DWELLING_USES",
    "GRID_TASK_STATUSES",
    "GRID_WORKER_ROLES",
    "LEVEL_ZH",
    "PARENT_LEVEL",
    "PLAN_UNIT_IDS",
    "RESPONSE_OUTCOMES",
    "SRID",
    "Alley",
    "Area",
    "AreaLevel",
    "AssessmentWeights",
    "AuditEntry",
    "Base",
    "Building",
    "BuildingGrid",
    "Camera",
    "CameraKind",
    "Case",
    "CaseEvent",
    "CaseResponse",
    "CaseStatus",
    "Category",
    "Department",
    "Dwelling",
    "Generation",
    "GenerationStatus",
    "GridKind",
    "GridTask",
    "GridTaskEvent",
    "Holiday",
    "Organisation",
    "Patrol",
    "Person",
    "Photo",
    "Plan",
    "PlanAssignment",
    "PlanEvent",
    "PlanEventGrid",
    "PlanStatus",
    "PlanUnit",
    "RateBucket",
    "Road",
    "RoutingVersion",
    "Site",
    "StandardAddress",
    "Task",
    "User",
    "UserRole",
    "Visit",
    "WebSession",
    "Worker",
    "WorkerAssignment",
    "WorkerRole",
    "_enum",
    "_geom",
    "_gist",
]
