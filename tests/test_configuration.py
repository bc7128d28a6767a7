"""One .env.example documents every setting, and it loads as it stands."""

from __future__ import annotations

from gridmap.settings import PROJECT_ROOT, Settings

EXAMPLE = PROJECT_ROOT / ".env.example"


def test_every_setting_is_in_the_example():
    text = EXAMPLE.read_text(encoding="utf-8")
    missing = [n for n in Settings.model_fields if f"GRIDMAP_{n.upper()}=" not in text]
    assert missing == [], f"add {missing} to .env.example"


def test_the_example_loads_as_the_defaults(monkeypatch):
    for name in Settings.model_fields:
        monkeypatch.delenv(f"GRIDMAP_{name.upper()}", raising=False)
    example = Settings(_env_file=EXAMPLE)
    assert example.model_dump() == Settings(_env_file=None).model_dump()
