"""The many-workspaces Meltano example: plugins inherit, resolve and keep keys apart."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.test_end_to_end import MELTANO, uv_executable

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "many-workspaces" / "meltano.yml"
WORKSPACES = {
    "tap-customerio--acme": ("CUSTOMERIO_ACME_API_KEY", "us"),
    "tap-customerio--globex": ("CUSTOMERIO_GLOBEX_API_KEY", "eu"),
}


def load_project() -> dict:
    return yaml.safe_load(EXAMPLE.read_text(encoding="utf-8"))


def plugins_by_name(project: dict) -> dict[str, tuple[str, dict]]:
    return {
        plugin["name"]: (plugin_type, plugin)
        for plugin_type, plugins in project["plugins"].items()
        for plugin in plugins
    }


def meltano_config(project_dir: Path, plugin: str, env: dict[str, str]) -> dict:
    """Return ``meltano config print`` of one plugin, as Meltano resolves it."""
    environment = {k: v for k, v in os.environ.items() if "CUSTOMERIO" not in k}
    environment.update(env, MELTANO_SEND_ANONYMOUS_USAGE_STATS="false")
    command = [uv_executable(), "tool", "run", "--quiet", "--from", MELTANO, "meltano"]
    done = subprocess.run(
        [*command, "config", "print", plugin],
        cwd=project_dir,
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def project_dir(tmp_path_factory):
    """A copy of the example project, so Meltano's .meltano folder stays out of the tree."""
    directory = tmp_path_factory.mktemp("many-workspaces")
    shutil.copy(EXAMPLE, directory / "meltano.yml")
    return directory


def test_inherited_plugins_defined():
    plugins = plugins_by_name(load_project())

    inheriting = {name: entry for name, entry in plugins.items() if "inherit_from" in entry[1]}
    assert set(WORKSPACES) <= set(inheriting)
    for name, (plugin_type, plugin) in inheriting.items():
        parent = plugin["inherit_from"]
        assert parent in plugins, f"{name} inherits from undefined {parent}"
        assert plugins[parent][0] == plugin_type, f"{name} and {parent} differ in type"
        assert "inherit_from" not in plugins[parent][1]


def test_workspace_keys_separate():
    plugins = plugins_by_name(load_project())

    keys = [plugins[name][1]["config"]["api_key"] for name in WORKSPACES]
    assert keys == [f"${variable}" for variable, _ in WORKSPACES.values()]
    assert "api_key" not in plugins["tap-customerio"][1].get("config", {})


def test_readme_excerpt_matches_example():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Many workspaces under an orchestrator", 1)[1]
    excerpt = yaml.safe_load(section.split("```yaml\n", 1)[1].split("```", 1)[0])
    plugins = plugins_by_name(load_project())
    jobs = {job["name"]: job["tasks"] for job in load_project()["jobs"]}

    for plugin in excerpt["plugins"]["extractors"]:
        _, full = plugins[plugin["name"]]
        for key, value in plugin.items():
            assert full[key] == value, f"{plugin['name']}.{key} differs from the example"
    for job in excerpt["jobs"]:
        assert jobs[job["name"]] == job["tasks"]


def test_jobs_and_schedules_resolve():
    project = load_project()
    plugins = plugins_by_name(project)
    jobs = {job["name"] for job in project["jobs"]}

    for job in project["jobs"]:
        for task in job["tasks"]:
            for block in task.split():
                assert block.split(":")[0] in plugins, f"job {job['name']}: unknown {block}"
    for schedule in project["schedules"]:
        assert schedule["job"] in jobs
    extractors = [task.split()[0] for job in project["jobs"] for task in job["tasks"]]
    assert sorted(extractors) == sorted(WORKSPACES)


@pytest.mark.parametrize("plugin", sorted(WORKSPACES))
def test_meltano_resolves_workspace(project_dir, plugin):
    variable, region = WORKSPACES[plugin]

    config = meltano_config(project_dir, plugin, {variable: "workspace-key"})

    assert config["api_key"] == "*****"
    assert config["region"] == region
    assert config["start_date"] == "2026-01-01T00:00:00Z"
    assert config["max_requests_per_second"] == 5


def test_parent_key_not_inherited(project_dir):
    config = meltano_config(project_dir, "tap-customerio--globex", {"TAP_CUSTOMERIO_API_KEY": "k"})

    assert "api_key" not in config
    assert config["region"] == "eu"
