"""Dependencies: floors above releases with known advisories, and a constraints file that
pins a point inside pyproject's ranges."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.version import Version

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())

# First release free of each known advisory, for packages we depend on directly or
# that the constraints file pins (indirect ones are held there, not in pyproject).
ADVISORY_FREE = {
    "pyarrow": ("14.0.1", "CVE-2023-47248: unsafe deserialisation of Parquet metadata"),
    "tqdm": ("4.66.3", "CVE-2024-34062: tqdm's CLI evaluates its arguments"),
    "setuptools": ("78.1.1", "CVE-2025-47273: path traversal in PackageIndex"),
    "jinja2": ("3.1.6", "CVE-2025-27516: sandbox escape through |attr"),
    "tornado": ("6.5", "CVE-2025-47287: multipart parsing denial of service"),
    "requests": ("2.32.4", "CVE-2024-47081: .netrc credentials leak"),
    "urllib3": ("2.5.0", "CVE-2025-50181: redirects not disabled when asked"),
    "starlette": ("0.47.2", "CVE-2025-54121: multipart upload blocks the event loop"),
    "h11": ("0.16.0", "CVE-2025-43859: lenient chunked-encoding parsing"),
    "pillow": ("10.3.0", "CVE-2024-28219: buffer overflow in _imagingcms"),
}


def requirements() -> list[Requirement]:
    project = PYPROJECT["project"]
    extras = [r for group in project["optional-dependencies"].values() for r in group]
    build = PYPROJECT["build-system"]["requires"]
    return [Requirement(r) for r in [*project["dependencies"], *extras, *build]]


def constraints() -> dict[str, Version]:
    pins = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[_canonical(name)] = Version(version)
    return pins


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _floor(requirement: Requirement) -> Version | None:
    floors = [Version(s.version) for s in requirement.specifier if s.operator in (">=", "==")]
    return max(floors, default=None)


@pytest.mark.parametrize("requirement", requirements(), ids=str)
def test_declared_floors_are_free_of_known_advisories(requirement):
    name = _canonical(requirement.name)
    if name not in ADVISORY_FREE:
        return
    fixed, advisory = ADVISORY_FREE[name]
    floor = _floor(requirement)
    assert floor is not None and floor >= Version(fixed), (
        f"{requirement}: allows releases before {fixed} ({advisory})")


def test_the_constraints_pin_every_requirement_inside_its_range():
    pins = constraints()
    for requirement in requirements():
        name = _canonical(requirement.name)
        if name == "setuptools":  # a build requirement, chosen by pip's build isolation
            continue
        assert name in pins, f"constraints.txt does not pin {name}"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"constraints.txt pins {name}=={pins[name]}, outside {requirement}")


def test_the_constraints_pin_no_release_with_a_known_advisory():
    pins = constraints()
    for name, (fixed, advisory) in ADVISORY_FREE.items():
        if name in pins:
            assert pins[name] >= Version(fixed), f"{name}=={pins[name]}: {advisory}"


def test_the_readme_says_how_to_use_the_constraints():
    readme = (ROOT / "README.md").read_text()
    assert "pip install -c constraints.txt" in readme
