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


def test_every_installed_package_is_pinned_in_the_constraints():
    """constraints.txt pins every distribution the virtualenv holds (transitive ones too), each
    to the version installed: the README's setup installs exactly what was tested."""
    from importlib import metadata
    from pathlib import Path

    pins = {}
    for line in (Path(__file__).resolve().parents[1] / "constraints.txt").read_text().splitlines():
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            assert version, f"{line!r} is not pinned with =="
            pins[name.lower().replace("_", "-")] = version
    installed = {d.metadata["Name"].lower().replace("_", "-"): d.version
                 for d in metadata.distributions()}
    ours = {"gridmap", "pip", "setuptools", "wheel"}
    missing = sorted(n for n in installed if n not in pins and n not in ours)
    assert missing == [], f"add to constraints.txt: {missing}"
    differ = sorted(n for n, v in installed.items() if n in pins and pins[n] != v)
    assert differ == [], f"installed versions differ from constraints.txt: {differ}"
