"""The demo's first load after the city itself: the case history and the register, generated and
written side by side — the history in a second process, the register in this one — since each
is mostly Python on one core and the machine has two (full scale: about 14 s and 30 s, 32 s
together instead of 44 s). Each is written only if its tables are empty."""

from __future__ import annotations

import datetime as dt
import multiprocessing
from concurrent.futures import ProcessPoolExecutor

from layers.demo import register as demo_register
from layers.register.crypto import PersonalData
from layers.storage.db import make_engine


def _history(url: str, scale: float, seed: int, today: dt.date | None,
             cases_scale: float) -> tuple[int, dict]:
    """The case history, then the field work that refers to it (patrols, department tasks,
    loudspeaker responses, the district's stories: layers/demo/field.py)."""
    from layers.demo import field
    from layers.demo.case_history import load as load_history

    engine = make_engine(url)
    try:
        cases = load_history(engine, scale=cases_scale, seed=seed)
        return cases, field.load(engine, scale=scale, seed=seed, today=today)
    finally:
        engine.dispose()


def load_extras(url: str, cipher: PersonalData, *, scale: float, seed: int,
                flag_m: float, today: dt.date | None = None, cases_scale: float | None = None,
                register_area: str | None = None) -> tuple[int, dict[str, int]]:
    """(cases written, register and field-work counts written): zero and {} for what was there
    already. ``cases_scale``: the history's size against Rencheng's (default ``scale``);
    ``register_area``: the code whose buildings get a register (default all)."""
    cases_scale = scale if cases_scale is None else cases_scale
    with ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn")) as pool:
        history = pool.submit(_history, url, scale, seed, today, cases_scale)
        engine = make_engine(url)
        try:
            counts = demo_register.load(engine, cipher, scale=scale, seed=seed, today=today,
                                        flag_m=flag_m, area=register_area)
        finally:
            engine.dispose()
        cases, field_counts = history.result()
        return cases, {**counts, **field_counts}
