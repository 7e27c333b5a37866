"""`rapport` and the set-up script fail with one clear line, not a traceback."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

from tests.conftest import PROJECT
from tests.support.stack import free_ports


def rapport(*args: str, env: dict | None = None, cwd: Path = PROJECT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "bot.ops.cli", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=300, env={**os.environ, **(env or {})})


def project_copy(tmp_path: Path) -> Path:
    home = tmp_path / "project"
    home.mkdir()
    for name in ("config.yml", "domain.yml", "endpoints.yml", "credentials.yml"):
        shutil.copy(PROJECT / name, home / name)
    for directory in ("data", "brand", "policies"):
        shutil.copytree(PROJECT / directory, home / directory)
    return home


def one_clear_line(result: subprocess.CompletedProcess) -> str:
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("rapport: error:")]
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_broken_yaml_names_the_file_and_line(tmp_path):
    home = project_copy(tmp_path)
    domain = home / "domain.yml"
    domain.write_text(domain.read_text().replace("intents:\n", "intents:\n  - greet: [\n", 1))
    line = one_clear_line(rapport("run", env={"RAPPORT_HOME": str(home),
                                              "RAPPORT_VAR_DIR": str(tmp_path / "var")}))
    assert "domain.yml:" in line and "invalid YAML" in line


def test_a_busy_port_is_named(tmp_path, test_settings, trained_model):
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = {"RAPPORT_VAR_DIR": str(test_settings.var_dir),
               "RAPPORT_TRAIN_EPOCHS_SCALE": str(test_settings.train_epochs_scale),
               "RAPPORT_CRM_URL": f"sqlite:///{tmp_path / 'crm.db'}",
               "RAPPORT_RASA_PORT": str(port)}
        line = one_clear_line(rapport("run", env=env))
    assert f"port {port}" in line and "already in use" in line


def test_run_refuses_a_bad_policy(tmp_path):
    home = project_copy(tmp_path)
    policy = home / "policies" / "resolution.yml"
    policy.write_text(policy.read_text().replace("- replacement\n", "- replacemnt\n", 1))
    line = one_clear_line(rapport("run", env={"RAPPORT_HOME": str(home),
                                              "RAPPORT_VAR_DIR": str(tmp_path / "var")}))
    assert "resolution.yml" in line and "replacemnt" in line


def test_validate_reports_a_bad_policy(tmp_path):
    home = project_copy(tmp_path)
    policy = home / "policies" / "resolution.yml"
    policy.write_text(policy.read_text().replace("issue_types: [damaged]", "issue_types: [dammaged]", 1))
    result = rapport("validate", "--quick", env={"RAPPORT_HOME": str(home)})
    assert result.returncode == 1
    assert "dammaged" in result.stderr and "Traceback" not in result.stderr


def test_validate_passes_on_the_project():
    result = rapport("validate", "--quick")
    assert result.returncode == 0, result.stderr
    assert "content is valid" in result.stdout


def test_setup_without_python_310_says_so(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("bash", "cat", "sha256sum", "cut", "dirname", "id"):
        found = shutil.which(tool)
        if found:
            (bin_dir / tool).symlink_to(found)
    result = subprocess.run(["bash", str(PROJECT / "scripts" / "setup.sh")], cwd=tmp_path,
                            capture_output=True, text=True,
                            env={"PATH": str(bin_dir), "HOME": str(tmp_path)})
    assert result.returncode == 1
    assert "Python 3.10 is required" in result.stderr


def test_run_makes_one_private_local_rest_token(tmp_path):
    from bot.ops.cli import LOCAL_TOKEN_FILE, local_rest_token
    from bot.settings import Settings

    settings = Settings.from_env({"RAPPORT_HOME": str(PROJECT),
                                  "RAPPORT_VAR_DIR": str(tmp_path / "var")})
    token = local_rest_token(settings)
    path = tmp_path / "var" / LOCAL_TOKEN_FILE
    assert len(token) >= 24 and path.read_text().strip() == token
    assert path.stat().st_mode & 0o777 == 0o600  # nobody else on the machine can read it
    assert local_rest_token(settings) == token  # the same on the next run


def test_chat_without_any_rest_token_says_what_to_set(tmp_path):
    env = {"RAPPORT_VAR_DIR": str(tmp_path / "var"), "RAPPORT_REST_TOKENS": ""}
    line = one_clear_line(rapport("chat", env=env))
    assert "RAPPORT_REST_TOKENS" in line


RUN_UNTIL_SERVICES = """
import json, sys
from pathlib import Path
from bot.ops import supervisor, training
from bot.ops.cli import main

seen = {}

def train_in_child(settings, **_):  # stands in for the child: nothing is trained
    seen["trained_in_child"] = True
    return Path("rapport-stand-in.tar.gz")

def start(self):  # the moment the services would start: what does this process hold?
    seen["imported"] = [name for name in ("tensorflow", "rasa.model_training") if name in sys.modules]
    raise KeyboardInterrupt  # `rapport run` then stops, as on Ctrl-C during start-up

training.train_in_child = train_in_child
supervisor.Supervisor.start = start
code = main(["run"])
print(json.dumps({"code": code, **seen}))
"""


def test_run_trains_in_a_child_and_never_imports_training(tmp_path):
    """`rapport run` lives as long as the bot: Rasa's training and TensorFlow stay out of it."""
    ports = dict(zip(("RAPPORT_RASA_PORT", "RAPPORT_ACTIONS_PORT", "RAPPORT_HUB_PORT"),
                     map(str, free_ports(3))))
    env = {**os.environ, **ports, "RAPPORT_HOME": str(PROJECT),
           "RAPPORT_VAR_DIR": str(tmp_path / "var"),
           "RAPPORT_CRM_URL": f"sqlite:///{tmp_path / 'crm.db'}"}
    result = subprocess.run([sys.executable, "-c", RUN_UNTIL_SERVICES], cwd=PROJECT, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    outcome = json.loads(result.stdout.splitlines()[-1])
    assert outcome == {"code": 0, "trained_in_child": True, "imported": []}, result.stdout
