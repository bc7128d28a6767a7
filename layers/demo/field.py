"""The demo's field work in 金城街道, and the district's own stories replayed as history.

- **Patrols**: every responsible worker of 金城街道 walks their grid on each working day of the
  last four weeks — along the grid's roads and back alleys, a point every 20 m at a walking pace,
  a little GPS noise — stored as patrols are, each with the share of the grid's roads and alleys
  it came within reach of (``patrols.shares_of_day``, as a district's day is measured).
- **Department tasks**: four departments (生态环境局, 住房和城乡建设局, 市场监督管理局, 应急管理局)
  ordered tasks into 金城街道's grids over the month; most are done, some late, some still open
  and overdue, a few just placed.
- **Loudspeaker responses**: most closed 占道经营 alerts of 金城街道's cameras were answered through
  the nearest loudspeaker a few minutes after the alert (劝导驱离).
- **Stories** (the platform's own account): 兴东社区's worker 杨文 reports 金华小区's dark street
  lights on 15 September 09:05; the property company repairs them; she uploads the photos on 18
  September 09:08 and the case is verified and closed ten minutes later. On 20 September 10:02 a
  camera on 红星西路 flags street vending; the duty officer clears it through the loudspeaker.

Loaded once, with the case history (it needs the history's cases): only when there are no
patrols yet.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets

import numpy as np
import shapely
from sqlalchemy import Engine, text

from gis.metric import length_m
from layers import clock
from layers.boundaries.generations import ACTIVE_ID_SQL
from layers.cases.working_calendar import holiday_calendar, is_workday
from layers.clock import CHINA
from layers.field.patrols import grid_lines, shares_of_day
from layers.storage.db import session_scope

STREET = "370811008"  # 金城街道
REACH_M = 30.0
DEPARTMENT_TASKS = (  # department, title, category, where (community suffixes or street), days
    ("生态环境局", "餐饮油烟净化设施排查", "environment", None, -18),
    ("住房和城乡建设局", "老旧小区燃气管道安全排查", "housing", ("001", "002", "003", "004"), 5),
    ("市场监督管理局", "食品经营户台账核查", "market", ("002", "003"), -3),
    ("应急管理局", "冬季消防安全隐患排查", "emergency", None, 10),
)


def load(engine: Engine, *, scale: float = 1.0, seed: int = 370811,
         today: dt.date | None = None) -> dict[str, int]:
    """Write the field demo; {} when patrols exist already."""
    with engine.connect() as conn:
        if conn.execute(text("SELECT EXISTS (SELECT 1 FROM patrols)")).scalar():
            return {}
    rng = np.random.default_rng(seed + 13)
    today = today or clock.today()
    with session_scope(engine) as session:
        workers = session.execute(text(f"""
            SELECT w.code, w.name, wa.grid_code FROM worker_assignments wa
            JOIN workers w ON w.id = wa.worker_id
            JOIN areas a ON a.code = wa.grid_code AND a.generation_id = {ACTIVE_ID_SQL}
            WHERE wa.role IN ('full_time', 'part_time') AND wa.grid_code LIKE :s || '%'
              AND a.kind = 'comprehensive'
            ORDER BY wa.grid_code"""), {"s": STREET}).all()
        lines = grid_lines(session, prefix=STREET)
        calendar = holiday_calendar(session)
        days = [today - dt.timedelta(days=d) for d in range(28, 0, -1)]
        days = [d for d in days if is_workday(d, calendar)]
        patrols = _patrols(session, rng, workers, lines, days)
        tasks = _tasks(session, rng, workers, today)
        responses = _responses(session, rng)
        stories = _stories(session, today)
    return {"patrols": patrols, "tasks": tasks, "loudspeaker responses": responses,
            "story cases": stories}


def walk(rng, lines: list[shapely.LineString], target_m: float, step_m: float) -> np.ndarray:
    """(lon, lat) every ``step_m`` along the grid's ``lines`` taken in random orders (each in a
    random direction, walking over from one to the next), until ``target_m`` metres: a patrol
    as a phone records it, before its GPS noise."""
    kx, ky = 111_320 * np.cos(np.radians(np.asarray(lines[0].coords)[0, 1])), 110_574
    parts: list[np.ndarray] = []
    walked = 0.0
    while walked < target_m:
        for i in rng.permutation(len(lines)):
            xy = np.asarray(lines[i].coords)
            metres = float(np.hypot(np.diff(xy[:, 0]) * kx, np.diff(xy[:, 1]) * ky).sum())
            n = max(2, int(metres / step_m) + 1)
            pts = shapely.get_coordinates(shapely.line_interpolate_point(
                lines[i], np.linspace(0, 1, n), normalized=True))
            pts = pts if rng.random() < 0.5 else pts[::-1]
            if parts:  # over to the next lane, not a teleport
                a, b = parts[-1][-1], pts[0]
                gap = float(np.hypot((b[0] - a[0]) * kx, (b[1] - a[1]) * ky))
                if int(gap / step_m) > 0:
                    parts.append(a + (b - a) * np.linspace(0, 1, int(gap / step_m) + 2)[1:-1, None])
                    walked += gap
            parts.append(pts)
            walked += metres
            if walked >= target_m:
                break
    return np.vstack(parts)


def gps_noise(rng, xy: np.ndarray, metres: float = 3.0) -> np.ndarray:
    """A phone's GPS: ``metres`` of normal noise on each fix."""
    kx = 111_320 * np.cos(np.radians(xy[0, 1]))
    return xy + rng.normal(0, metres, xy.shape) / np.array([kx, 110_574])


def _patrols(session, rng, workers, lines, days) -> int:
    rows, tracks = [], []
    responsible = list({grid: (name, grid) for _code, name, grid in reversed(workers)}.values())
    totals = {grid: sum(length_m(x) for x in ls) for grid, ls in lines.items()}
    for day in days:
        for name, grid in responsible:  # one patrol a day per grid, by its (first) worker
            ls = lines.get(grid)
            if not ls or rng.random() < 0.06:  # a day off, a meeting
                continue
            # some days most of the grid's lines, some days less than half
            xy = gps_noise(rng, walk(rng, ls, totals[grid] * rng.uniform(0.35, 0.95), 20.0))
            kx = 111_320 * np.cos(np.radians(xy[0, 1]))
            step = np.hypot(np.diff(xy[:, 0]) * kx, np.diff(xy[:, 1]) * 110_574)
            started = dt.datetime.combine(day, dt.time(8, 30), CHINA) + dt.timedelta(
                minutes=float(rng.uniform(0, 60)))
            seconds = float(step.sum() / rng.uniform(1.0, 1.4))
            rows.append({"key": f"demo-{grid}-{day:%Y%m%d}", "worker": name, "grid": grid,
                         "started": started, "ended": started + dt.timedelta(seconds=seconds),
                         "points": len(xy), "length": round(float(step.sum()), 1),
                         "inside": seconds, "wkt": shapely.LineString(xy).wkt})
            tracks.append((grid, xy[:, 0], xy[:, 1]))
    if not rows:
        return 0
    for row, share in zip(rows, shares_of_day(session, tracks, REACH_M), strict=True):
        row["share"] = share
    session.execute(text("""
        INSERT INTO patrols (key, worker, grid_code, mode, started_at, ended_at, points_in,
                             points_kept, length_m, inside_s, outside_s, coverage_share, geom)
        VALUES (:key, :worker, :grid, 'walk', :started, :ended, :points, :points, :length,
                :inside, 0, :share, ST_GeomFromText(:wkt, 4326))"""), rows)
    return len(rows)


def _tasks(session, rng, workers, today: dt.date) -> int:
    grids = [(code, grid) for code, _name, grid in workers]
    made = 0
    now = min(clock.now(), dt.datetime.combine(today, dt.time(23, 59), CHINA))

    def past(at: dt.datetime) -> dt.datetime:  # nothing the demo says happened is in the future
        return min(at, now - dt.timedelta(minutes=30))

    for department, title, category, where, days in DEPARTMENT_TASKS:
        chosen = [(c, g) for c, g in grids
                  if where is None or any(g.startswith(STREET + w) for w in where)] \
            or grids[:max(1, len(grids) // 3)]  # a small city: the communities are not all there
        if not chosen:
            continue
        deadline = dt.datetime.combine(today + dt.timedelta(days=days), dt.time(18), CHINA)
        created = past(deadline - dt.timedelta(days=10))
        task = session.execute(text("""
            INSERT INTO tasks (department, title, instructions, category, deadline, area,
                               attachments, created_by, created_at)
            VALUES (:dep, :title, :ins, :cat, :deadline, CAST(:area AS jsonb), '[]', :by, :at)
            RETURNING id"""), {
            "dep": department, "title": title, "ins": f"{title}：逐户核查并拍照留档，发现问题及时上报。",
            "cat": category, "deadline": deadline, "at": created, "by": department,
            "area": json.dumps({"codes": [STREET + w for w in where] if where else [STREET]})
        }).scalar_one()
        made += 1
        overdue = days < 0
        for k, (worker, grid) in enumerate(chosen):
            roll = rng.random()
            if overdue and k == len(chosen) // 2:
                status = "in_progress"  # every late order has its straggler (超期未完成)
            elif overdue:
                status = "done" if roll < 0.9 else ("in_progress" if roll < 0.97 else "assigned")
            else:
                status = ("done" if roll < 0.3 else "in_progress" if roll < 0.6
                          else "accepted" if roll < 0.85 else "assigned")
            accepted = past(created + dt.timedelta(hours=float(rng.uniform(1, 20))))
            late = overdue and rng.random() < 0.1
            completed = past(deadline + dt.timedelta(hours=float(rng.uniform(2, 30))) if late else
                             min(deadline, accepted + dt.timedelta(days=float(rng.uniform(1, 8)))))
            gt = session.execute(text("""
                INSERT INTO grid_tasks (task_id, grid_code, worker_code, status, accepted_at,
                                        completed_at, updated_at)
                VALUES (:t, :g, :w, :s, :acc, :done, :upd) RETURNING id"""), {
                "t": task, "g": grid, "w": worker, "s": status,
                "acc": accepted if status != "assigned" else None,
                "done": completed if status == "done" else None,
                "upd": completed if status == "done" else accepted}).scalar_one()
            steps = {"assigned": [], "accepted": ["accept"], "in_progress": ["accept", "progress"],
                     "done": ["accept", "progress", "complete"]}[status]
            for k, action in enumerate(steps):
                at = accepted if k == 0 else accepted + (completed - accepted) * (k / len(steps))
                session.execute(text("""
                    INSERT INTO grid_task_events (grid_task_id, at, actor, action, note, photos)
                    VALUES (:gt, :at, :actor, :action, :note, '[]')"""), {
                    "gt": gt, "at": at, "actor": worker, "action": action,
                    "note": {"accept": "已接收", "progress": "已完成辖区一半，发现问题已登记",
                             "complete": "排查完毕，无遗留问题"}[action]})
    return made


def _responses(session, rng) -> int:
    """劝导驱离 through the nearest loudspeaker for most closed 占道经营 alerts of the street."""
    alerts = session.execute(text("""
        SELECT k.id, k.created_at, (
            SELECT c.code FROM cameras c WHERE c.kind = 'loudspeaker' AND c.range_m IS NOT NULL
              AND ST_DWithin(c.geom::geography, k.geom::geography, c.range_m)
            ORDER BY c.geom <-> k.geom LIMIT 1) AS device
        FROM cases k WHERE k.source = 'camera' AND k.category_code = 'E0501'
          AND k.status = 'closed' AND k.grid_code LIKE :s || '%'"""), {"s": STREET}).all()
    rows = [{"case": a.id, "device": a.device, "at": a.created_at + dt.timedelta(
             minutes=float(rng.uniform(1.5, 9)))}
            for a in alerts if a.device and rng.random() < 0.7]
    if rows:
        session.execute(text("""
            INSERT INTO case_responses (case_id, device_code, operator, at, outcome, place_clear,
                                        note)
            VALUES (:case, :device, '金城街道值班员', :at, '劝导驱离', true, '远程喊话劝离')"""),
            rows)
    return len(rows)


def _png(colour: tuple[int, int, int]) -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (64, 48), colour).save(out, format="PNG")
    return out.getvalue()


def _case(session, *, source, category, at, grid, lon, lat, description, assignee, camera=None,
          department=None) -> int:
    version = session.execute(text("SELECT max(id) FROM routing_versions")).scalar_one()
    case_id = session.execute(text(f"""
        INSERT INTO cases (case_no, token, source, category_code, routing_version_id,
                           description, camera_code, status, grid_code, generation_id,
                           assignee_worker_code, department_code, created_at, registered_at,
                           updated_at, geom)
        VALUES ('pending', :token, :source, :cat, :version, :desc, :camera, 'reported', :grid,
                {ACTIVE_ID_SQL}, :assignee, :dep, :at, NULL, :at,
                ST_SetSRID(ST_MakePoint(:lon, :lat), 4326)) RETURNING id"""), {
        "token": secrets.token_urlsafe(12), "source": source, "cat": category,
        "version": version, "desc": description, "camera": camera, "grid": grid,
        "assignee": assignee, "dep": department, "at": at, "lon": lon, "lat": lat}).scalar_one()
    session.execute(text("UPDATE cases SET case_no = :no WHERE id = :id"),
                    {"no": f"RC{clock.day_of(at):%Y%m%d}{case_id:07d}", "id": case_id})
    return case_id


def _steps(session, case_id: int, steps: list[tuple], final: dict) -> None:
    previous = "reported"
    for at, actor, action, after, note, photos in steps:
        session.execute(text("""
            INSERT INTO case_events (case_id, at, actor, action, from_status, to_status, note,
                                     photo_ids)
            VALUES (:c, :at, :actor, :action, :prev, :after, :note, CAST(:photos AS jsonb))"""),
            {"c": case_id, "at": at, "actor": actor, "action": action, "prev": previous,
             "after": after, "note": note, "photos": json.dumps(photos)})
        previous = after
    session.execute(text("""UPDATE cases SET status = :status, registered_at = :registered,
        deadline = :deadline, closed_at = :closed, updated_at = :closed WHERE id = :id"""),
        {"id": case_id, **final})


def _stories(session, today: dt.date) -> int:
    made = 0
    year = today.year if today.month >= 10 else today.year - 1  # the last September gone by
    jinhua = session.execute(text("""
        SELECT b.code, ST_X(ST_PointOnSurface(b.geom)) AS lon, ST_Y(ST_PointOnSurface(b.geom)) AS lat,
               bg.grid_code FROM buildings b JOIN building_grids bg ON bg.building_id = b.id
        WHERE b.properties->>'compound' = '金华小区' ORDER BY b.code LIMIT 1""")).one_or_none()
    if jinhua is not None:
        worker = session.execute(text("""
            SELECT w.code FROM worker_assignments wa JOIN workers w ON w.id = wa.worker_id
            WHERE wa.grid_code = :g AND wa.role IN ('full_time', 'part_time') LIMIT 1"""),
            {"g": jinhua.grid_code}).scalar()
        if worker:
            session.execute(text("UPDATE workers SET name = '杨文' WHERE code = :w"), {"w": worker})
        t = dt.datetime(year, 9, 15, 9, 5, tzinfo=CHINA)
        case_id = _case(session, source="patrol", category="C0102", at=t, grid=jinhua.grid_code,
                        lon=jinhua.lon, lat=jinhua.lat, assignee=worker, department="CG",
                        description="金华小区3号楼前路灯不亮，夜间居民出行不便")
        photos = []
        for colour in ((40, 40, 60), (230, 220, 140)):
            data = _png(colour)
            photos.append(session.execute(text("""
                INSERT INTO photos (case_id, content_type, size, sha256, data)
                VALUES (:c, 'image/png', :n, encode(sha256(:d), 'hex'), :d) RETURNING id"""),
                {"c": case_id, "n": len(data), "d": data}).scalar_one())
        done = dt.datetime(year, 9, 18, 9, 8, tzinfo=CHINA)
        _steps(session, case_id, [
            (t, "杨文", "report", "reported", "金华小区路灯不亮", []),
            (t + dt.timedelta(minutes=12), "金城街道", "register", "registered", None, []),
            (t + dt.timedelta(minutes=20), "金城街道", "dispatch", "dispatched", "转物业公司维修", []),
            (t + dt.timedelta(hours=3), "物业公司", "start", "processing", "物业更换灯具", []),
            (done, "杨文", "feedback", "resolved", "路灯已修复，上传修复照片", photos),
            (done + dt.timedelta(minutes=6), "金城街道", "verify_pass", "verified", "核查通过", []),
            (done + dt.timedelta(minutes=10), "金城街道", "close", "closed", "结案", []),
        ], {"status": "closed", "registered": t + dt.timedelta(minutes=12),
            "deadline": t + dt.timedelta(days=3), "closed": done + dt.timedelta(minutes=10)})
        made += 1
    camera = session.execute(text("""
        SELECT c.code, ST_X(c.geom) AS lon, ST_Y(c.geom) AS lat FROM cameras c,
               (SELECT ST_Union(geom) AS geom FROM roads WHERE name = '红星西路') r
        WHERE c.kind IN ('fixed', 'ptz', 'panoramic') AND r.geom IS NOT NULL
        ORDER BY c.geom <-> r.geom, c.code LIMIT 1""")).one_or_none()
    speaker = session.execute(text("""
        SELECT code FROM cameras WHERE kind = 'loudspeaker' AND range_m IS NOT NULL
        ORDER BY geom <-> ST_SetSRID(ST_MakePoint(:x, :y), 4326) LIMIT 1"""),
        {"x": camera.lon if camera else 0, "y": camera.lat if camera else 0}).scalar()
    if camera is not None:
        grid = session.execute(text(f"""SELECT code FROM areas WHERE generation_id = {ACTIVE_ID_SQL}
            AND level = 'grid' AND ST_Covers(geom, ST_SetSRID(ST_MakePoint(:x, :y), 4326))
            ORDER BY code LIMIT 1"""), {"x": camera.lon, "y": camera.lat}).scalar()
        t = dt.datetime(year, 9, 20, 10, 2, tzinfo=CHINA)
        case_id = _case(session, source="camera", category="E0501", at=t, grid=grid,
                        lon=camera.lon, lat=camera.lat, assignee=None, camera=camera.code,
                        description="视频智能分析：红星西路占道经营（流动摊贩）")
        spoken = t + dt.timedelta(minutes=4)
        if speaker:
            session.execute(text("""
                INSERT INTO case_responses (case_id, device_code, operator, at, outcome,
                                            place_clear, note)
                VALUES (:c, :d, '值班员', :at, '劝导驱离', true, '远程喊话，摊贩已离开')"""),
                {"c": case_id, "d": speaker, "at": spoken})
        _steps(session, case_id, [
            (t, "camera", "report", "reported", "占道经营告警", []),
            (spoken, "值班员", "register", "registered", None, []),
            (spoken, "值班员", "dispatch", "dispatched", None, []),
            (spoken, "值班员", "start", "processing", "远程喊话", []),
            (spoken, "值班员", "feedback", "resolved", "劝导驱离，画面已无摊贩", []),
            (spoken + dt.timedelta(minutes=20), "金城街道", "verify_pass", "verified", None, []),
            (spoken + dt.timedelta(minutes=25), "金城街道", "close", "closed", "结案", []),
        ], {"status": "closed", "registered": spoken, "deadline": t + dt.timedelta(hours=4),
            "closed": spoken + dt.timedelta(minutes=25)})
        made += 1
    return made
