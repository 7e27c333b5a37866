"""Content checks: every broken file is named with its line, before anything trains or starts."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.ops.content_checks import (
    ContentError, check_startup_content, check_yaml_file, check_yaml_files, validate_content,
    yaml_files,
)
from bot.settings import Settings
from tests.support import PROJECT

ROOT_FILES = ("config.yml", "domain.yml", "endpoints.yml", "credentials.yml")


def project_copy(tmp_path: Path) -> Path:
    """The brand team's files (no code) in a fresh directory."""
    home = tmp_path / "project"
    home.mkdir()
    for name in ROOT_FILES:
        shutil.copy(PROJECT / name, home / name)
    for directory in ("data", "brand", "policies"):
        shutil.copytree(PROJECT / directory, home / directory)
    return home


def settings_for(home: Path, tmp_path: Path) -> Settings:
    return Settings.from_env({"RAPPORT_HOME": str(home), "RAPPORT_VAR_DIR": str(tmp_path / "var")})


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


# -- which files --------------------------------------------------------------------------

def test_yaml_files_are_the_root_files_then_each_content_directory_sorted(tmp_path):
    home = tmp_path
    for name in ("domain.yml", "config.yml", "credentials.yml"):
        write(home / name, "{}\n")
    write(home / "data" / "rules" / "b.yml", "{}\n")
    write(home / "data" / "nlu" / "a.yaml", "{}\n")
    write(home / "data" / "notes.txt", "not YAML, not read\n")
    write(home / "policies" / "resolution.yml", "{}\n")
    write(home / "tests" / "stories.yml", "{}\n")  # not content the brand team edits
    write(home / "brand.yml", "{}\n")  # a root file Rapport does not know
    assert yaml_files(home) == [
        home / "config.yml", home / "domain.yml", home / "credentials.yml",
        home / "data" / "nlu" / "a.yaml", home / "data" / "rules" / "b.yml",
        home / "policies" / "resolution.yml",
    ]


def test_the_projects_own_content_files_are_all_found():
    found = {str(path.relative_to(PROJECT)) for path in yaml_files(PROJECT)}
    assert {*ROOT_FILES, "data/nlu/complaints.yml", "brand/brand.yml",
            "policies/resolution.yml"} <= found
    assert not any(name.startswith(("tests/", ".venv/", "var/")) for name in found)


# -- one file -----------------------------------------------------------------------------

def test_valid_yaml_passes(tmp_path):
    assert check_yaml_file(write(tmp_path / "data" / "ok.yml", "a: [1, 2]\n"), tmp_path) is None


@pytest.mark.parametrize("text, where, problem", [
    ("a: [1, 2\nb: 3\n", "2:2", "expected ',' or ']', but got ':'"),
    ("key: value\n  bad: indent\n", "2:6", "mapping values are not allowed here"),
    ("a: 1\n\tb: 2\n", "2:1", "found character '\\t' that cannot start any token"),
])
def test_invalid_yaml_names_file_line_column_and_problem(tmp_path, text, where, problem):
    path = write(tmp_path / "data" / "nlu" / "broken.yml", text)
    with pytest.raises(ContentError) as raised:
        check_yaml_file(path, tmp_path)
    assert str(raised.value) == f"data/nlu/broken.yml:{where}: invalid YAML: {problem}"


def test_a_file_that_is_not_utf8_is_named(tmp_path):
    path = tmp_path / "domain.yml"
    path.write_bytes(b"intents:\n  - caf\xe9\n")
    with pytest.raises(ContentError) as raised:
        check_yaml_file(path, tmp_path)
    assert str(raised.value) == "domain.yml: not UTF-8 text (invalid continuation byte)"


def test_a_file_outside_home_is_named_by_its_full_path(tmp_path):
    path = write(tmp_path / "elsewhere" / "x.yml", "a: [\n")
    with pytest.raises(ContentError) as raised:
        check_yaml_file(path, tmp_path / "home")
    assert str(raised.value).startswith(f"{path}:2:1: invalid YAML: ")


# -- the whole project --------------------------------------------------------------------

def test_config_and_domain_are_required(tmp_path):
    write(tmp_path / "domain.yml", "{}\n")
    settings = settings_for(tmp_path, tmp_path)
    with pytest.raises(ContentError) as raised:
        check_yaml_files(settings)
    assert str(raised.value) == (f"config.yml not found in {tmp_path} "
                                 "(run rapport from the project root)")
    write(tmp_path / "config.yml", "{}\n")
    (tmp_path / "domain.yml").unlink()
    with pytest.raises(ContentError, match=r"^domain\.yml not found in "):
        check_yaml_files(settings)


def test_the_first_broken_file_stops_the_check(tmp_path):
    home = project_copy(tmp_path)
    write(home / "data" / "nlu" / "zz_broken.yml", "nlu:\n- intent: greet\n   examples: x\n")
    write(home / "policies" / "zz_broken.yml", "a: [\n")
    with pytest.raises(ContentError) as raised:
        check_yaml_files(settings_for(home, tmp_path))
    assert str(raised.value) == ("data/nlu/zz_broken.yml:3:12: invalid YAML: "
                                 "mapping values are not allowed here")


def test_the_project_passes_the_startup_checks(tmp_path):
    assert check_startup_content(settings_for(PROJECT, tmp_path)) is None
    assert validate_content(settings_for(PROJECT, tmp_path), rasa_validation=False) == []


def test_startup_refuses_a_policy_that_names_an_unknown_issue_type(tmp_path):
    home = project_copy(tmp_path)
    policy = home / "policies" / "resolution.yml"
    policy.write_text(policy.read_text().replace("issue_types: [damaged]",
                                                 "issue_types: [dammaged]", 1))
    with pytest.raises(ContentError) as raised:
        check_startup_content(settings_for(home, tmp_path))
    assert "resolution.yml" in str(raised.value) and "dammaged" in str(raised.value)
    assert validate_content(settings_for(home, tmp_path), rasa_validation=False) == [
        str(raised.value)]


def test_without_a_policy_file_there_is_no_policy_problem(tmp_path):
    home = project_copy(tmp_path)
    (home / "policies" / "resolution.yml").unlink()
    assert validate_content(settings_for(home, tmp_path), rasa_validation=False) == []


def test_validate_reports_broken_yaml_as_its_only_problem(tmp_path):
    home = project_copy(tmp_path)
    write(home / "brand" / "brand.yml", "name: [Lumen\n")
    assert validate_content(settings_for(home, tmp_path), rasa_validation=False) == [
        "brand/brand.yml:2:1: invalid YAML: expected ',' or ']', but got '<stream end>'"]


def test_validate_reports_brand_data_that_is_valid_yaml_but_wrong(tmp_path):
    home = project_copy(tmp_path)
    write(home / "brand" / "brand.yml", "tagline: no name here\n")
    assert validate_content(settings_for(home, tmp_path), rasa_validation=False) == [
        f"{home / 'brand' / 'brand.yml'}: expected a mapping with at least 'name'"]


def test_rasa_validation_failures_are_reported_under_one_heading(tmp_path):
    """A story running an action the domain lacks: Rasa's validator fails, we pass it on."""
    home = project_copy(tmp_path)
    write(home / "data" / "stories" / "zz_unknown.yml", (
        'version: "3.1"\nstories:\n- story: an action nobody wrote\n  steps:\n'
        "  - intent: greet\n  - action: action_sing_a_unicorn_song\n"))
    problems = validate_content(settings_for(home, tmp_path))
    assert problems[0] == "rasa data validate failed:", problems
    assert any("The action 'action_sing_a_unicorn_song' is used in the 'an action nobody wrote' "
               "block, but it is not listed in the domain file." in line
               for line in problems[1:]), problems
    assert any("Project validation completed with errors." in line for line in problems), problems
