"""The conda environments and the package pin the same exact versions."""

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([A-Za-z0-9_.+\-]+)$")


def _pins(requirements):
    pins = {}
    for requirement in requirements:
        match = PIN.match(requirement.strip())
        assert match, f"not an exact pin: {requirement!r}"
        pins[match.group(1).lower()] = match.group(2)
    return pins


def _package_pins():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return _pins(requirements)


def test_every_package_dependency_is_pinned_exactly_and_torch_is_2_13_0():
    pins = _package_pins()
    assert pins["torch"] == "2.13.0"


@pytest.mark.parametrize("env_file", sorted((ROOT / "envs").glob("*.yaml")), ids=lambda p: p.name)
def test_conda_env_pins_match_the_package(env_file):
    package = _package_pins()
    env = yaml.safe_load(env_file.read_text())
    pip_section = next(item["pip"] for item in env["dependencies"] if isinstance(item, dict))
    for name, version in _pins(pip_section).items():
        assert package.get(name) == version, f"{env_file.name}: {name}=={version}, pyproject has {package.get(name)}"


def test_no_dependency_replaces_the_cpu_torch_build():
    # timm and torchvision pull a CUDA torch build or break the transformers import here.
    files = [ROOT / "pyproject.toml", ROOT / "requirements" / "constraints.txt", *(ROOT / "envs").glob("*.yaml")]
    for path in files:
        text = path.read_text().lower()
        assert "torchvision" not in text and "timm" not in text, path
