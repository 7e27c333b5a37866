"""The retraining job: validate, train, load into the running Rasa, one at a time.

Validation is the real `rapport validate` on a copy of the project. Training is a stand-in
script that behaves like `rapport train` (prints "trained: PATH" and writes the file): a
real training takes minutes. Rasa's `PUT /model` is a local aiohttp server that checks the
hub's JWT as Rasa does.
"""

from __future__ import annotations

import fcntl
import secrets
import sys
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web

from bot.hub.rasa_api import RasaApi, RasaApiError
from bot.insight.retrain import (
    DONE, FAILED, LOADING, QUEUED, TRAINING, VALIDATING, RetrainBusy, RetrainJob,
)
from bot.insight.training_data import DomainLock
from bot.settings import Settings
from tests.bot.insight.nlu_project import project_copy

FAKE_TRAIN = '''
import os, pathlib, sys, time
var = pathlib.Path(os.environ["RAPPORT_VAR_DIR"])
(var / "train-ran").write_text(os.environ["RAPPORT_HOME"])
mode = sys.argv[1]
print("training a model for the current content (this takes a minute or two)...", flush=True)
if mode == "fail":
    print("rapport: error: rasa training failed (exit code 1); see the log above", flush=True)
    sys.exit(2)
if mode == "hang":
    time.sleep(600)
if mode == "ok":
    model = var / "models" / "rapport-0123456789abcdef.tar.gz"
    model.parent.mkdir(parents=True, exist_ok=True)
    model.write_bytes(b"a model")
    print(f"trained: {model}", flush=True)
'''


@dataclass
class RasaModelApi:
    """Rasa's `PUT /model`: checks the JWT (HS256, role admin), records the body."""

    secret: str
    status: int = 204
    url: str = ""
    loaded: list[dict[str, Any]] = field(default_factory=list)

    async def put_model(self, request: web.Request) -> web.Response:
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        try:
            claims = jwt.decode(token, self.secret, algorithms=["HS256"])
        except jwt.PyJWTError:
            return web.json_response({"message": "unauthorized"}, status=401)
        if claims.get("user", {}).get("role") != "admin":
            return web.json_response({"message": "forbidden"}, status=403)
        if self.status != 204:
            return web.json_response({"message": "could not load the model"},
                                     status=self.status)
        self.loaded.append(await request.json())
        return web.Response(status=204)


@pytest.fixture
def secret() -> str:
    return secrets.token_urlsafe(24)


@pytest.fixture
def settings(tmp_path: Path, secret: str) -> Settings:
    home = project_copy(tmp_path / "project")
    return Settings.from_env({"RAPPORT_HOME": str(home), "RAPPORT_VAR_DIR": str(tmp_path / "var"),
                              "RAPPORT_RASA_JWT_SECRET": secret})


@pytest.fixture
async def rasa(aiohttp_server, secret):
    stand_in = RasaModelApi(secret)
    app = web.Application()
    app.router.add_put("/model", stand_in.put_model)
    server = await aiohttp_server(app)
    stand_in.url = str(server.make_url("/"))
    async with aiohttp.ClientSession() as session:
        yield stand_in, RasaApi(session, stand_in.url, secret)


def _train(tmp_path: Path, mode: str) -> list[str]:
    script = tmp_path / "fake_train.py"
    script.write_text(FAKE_TRAIN)
    return [sys.executable, str(script), mode]


def _no_problems(home: Path) -> list[str]:
    return []


async def test_a_retrain_validates_trains_and_loads_the_new_model(settings, rasa, tmp_path):
    stand_in, api = rasa
    seen = []
    job = RetrainJob(settings, api.load_model, train_command=_train(tmp_path, "ok"),
                     on_change=seen.append)

    assert job.start().state == QUEUED
    progress = await job.wait()

    model = settings.var_dir / "models" / "rapport-0123456789abcdef.tar.gz"
    assert progress.state == DONE, progress.message
    assert progress.message == f"the bot now runs {model.name}"
    assert stand_in.loaded == [{"model_file": str(model)}]
    states = [p.state for p in seen]
    assert states[:2] == [QUEUED, VALIDATING] and states[-2:] == [LOADING, DONE]
    assert set(states[2:-2]) == {TRAINING}
    assert (settings.var_dir / "train-ran").read_text() == str(settings.home)
    assert progress.to_json()["model"] == model.name and not progress.to_json()["active"]


async def test_a_second_retrain_while_one_runs_is_refused(settings, rasa, tmp_path):
    _, api = rasa
    release = threading.Event()

    def slow_validation(home: Path) -> list[str]:
        release.wait(timeout=60)
        return []

    job = RetrainJob(settings, api.load_model, validate=slow_validation,
                     train_command=_train(tmp_path, "ok"))
    elsewhere = RetrainJob(settings, api.load_model, validate=_no_problems,
                           train_command=_train(tmp_path, "ok"))
    job.start()
    try:
        with pytest.raises(RetrainBusy, match="already running"):
            job.start()
        with pytest.raises(RetrainBusy, match="already running"):  # the lock in var/
            elsewhere.start()
    finally:
        release.set()
    assert (await job.wait()).state == DONE
    elsewhere.start()
    assert (await elsewhere.wait()).state == DONE


async def test_data_that_does_not_validate_is_not_trained(settings, rasa, tmp_path):
    stand_in, api = rasa
    rules = settings.home / "data" / "rules" / "basics.yml"
    rules.write_text(rules.read_text() + "\n  - rule: broken on purpose\n    steps:\n"
                     "      - intent: greet\n      - action: action_that_does_not_exist\n")
    job = RetrainJob(settings, api.load_model, train_command=_train(tmp_path, "ok"))
    job.start()
    progress = await job.wait()
    assert progress.state == FAILED
    assert progress.message.startswith("the training data did not validate")
    assert "action_that_does_not_exist" in progress.message
    assert not (settings.var_dir / "train-ran").exists() and stand_in.loaded == []


async def test_a_failed_training_leaves_the_running_model(settings, rasa, tmp_path):
    stand_in, api = rasa
    job = RetrainJob(settings, api.load_model, validate=_no_problems,
                     train_command=_train(tmp_path, "fail"))
    job.start()
    progress = await job.wait()
    assert progress.state == FAILED
    assert progress.message.startswith("training failed (exit code 2)")
    assert "rasa training failed" in progress.message
    assert stand_in.loaded == []


async def test_a_training_that_names_no_model_fails(settings, rasa, tmp_path):
    stand_in, api = rasa
    job = RetrainJob(settings, api.load_model, validate=_no_problems,
                     train_command=_train(tmp_path, "silent"))
    job.start()
    progress = await job.wait()
    assert (progress.state, stand_in.loaded) == (FAILED, [])
    assert progress.message.startswith("training finished without naming a model file")


async def test_a_training_that_hangs_is_stopped(settings, rasa, tmp_path):
    stand_in, api = rasa
    job = RetrainJob(settings, api.load_model, validate=_no_problems,
                     train_command=_train(tmp_path, "hang"), train_timeout=2)
    job.start()
    progress = await job.wait()
    assert progress.state == FAILED
    assert progress.message.startswith("training took longer than 2 s and was stopped")


async def test_a_model_rasa_cannot_load_leaves_the_running_one(settings, rasa, tmp_path):
    stand_in, api = rasa
    stand_in.status = 500
    job = RetrainJob(settings, api.load_model, validate=_no_problems,
                     train_command=_train(tmp_path, "ok"))
    job.start()
    progress = await job.wait()
    assert progress.state == FAILED
    assert "could not load it (Rasa answered 500" in progress.message
    assert progress.message.endswith("it keeps its current model")


async def test_a_wrong_secret_is_refused_by_rasa_and_said(settings, rasa, tmp_path):
    stand_in, api = rasa
    async with aiohttp.ClientSession() as session:
        wrong = RasaApi(session, stand_in.url, secrets.token_urlsafe(24))
        job = RetrainJob(settings, wrong.load_model, validate=_no_problems,
                         train_command=_train(tmp_path, "ok"))
        job.start()
        progress = await job.wait()
    assert progress.state == FAILED and "Rasa answered 401" in progress.message
    assert stand_in.loaded == []


async def test_without_rasas_api_the_model_is_trained_but_not_loaded(settings, tmp_path):
    job = RetrainJob(settings, None, validate=_no_problems, train_command=_train(tmp_path, "ok"))
    job.start()
    progress = await job.wait()
    assert progress.state == FAILED
    assert "cannot reach Rasa's API" in progress.message
    assert progress.model is not None and Path(progress.model).is_file()


async def test_rasa_api_without_a_secret_does_not_call(rasa):
    stand_in, _ = rasa
    async with aiohttp.ClientSession() as session:
        with pytest.raises(RasaApiError, match="API is off"):
            await RasaApi(session, stand_in.url, None).load_model(Path("/models/m.tar.gz"))
    assert stand_in.loaded == []


def _domain_is_locked(home: Path) -> bool:
    """Whether someone holds a lock on domain.yml that a labelling would have to wait for."""
    with (home / "domain.yml").open("rb") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return True
        fcntl.flock(handle, fcntl.LOCK_UN)
        return False


LOCK_CHECKING_TRAIN = '''
import fcntl, os, pathlib, sys
home, var = pathlib.Path(os.environ["RAPPORT_HOME"]), pathlib.Path(os.environ["RAPPORT_VAR_DIR"])
with (home / "domain.yml").open("rb") as handle:
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        model = var / "models" / "rapport-locked.tar.gz"
        model.parent.mkdir(parents=True, exist_ok=True)
        model.write_bytes(b"a model")
        print(f"trained: {model}", flush=True)
        sys.exit(0)
print("domain.yml was not locked while training read the data", flush=True)
sys.exit(3)
'''


async def test_labelling_waits_while_a_retrain_validates_and_trains(settings, rasa, tmp_path):
    _, api = rasa
    seen_while_validating = []

    def validation(home: Path) -> list[str]:
        seen_while_validating.append(_domain_is_locked(home))
        return []

    script = tmp_path / "lock_checking_train.py"
    script.write_text(LOCK_CHECKING_TRAIN)
    job = RetrainJob(settings, api.load_model, validate=validation,
                     train_command=[sys.executable, str(script)])
    job.start()
    progress = await job.wait()

    assert seen_while_validating == [True]
    assert progress.state == DONE, progress.message
    assert not _domain_is_locked(settings.home)  # released once the data is read
    with DomainLock(settings.home / "domain.yml"):  # a labelling can go ahead again
        assert _domain_is_locked(settings.home)  # and holds off the next one while it writes
    assert not _domain_is_locked(settings.home)


async def test_an_unexpected_failure_ends_the_retrain_as_failed(settings, rasa, tmp_path,
                                                                 caplog):
    _, api = rasa

    def broken(home: Path) -> list[str]:
        raise RuntimeError("a bug in the validator")

    job = RetrainJob(settings, api.load_model, validate=broken,
                     train_command=_train(tmp_path, "ok"))
    job.start()
    progress = await job.wait()

    assert progress.state == FAILED and not progress.active
    assert "a bug in the validator" in progress.message
    assert progress.finished_at is not None
    assert any("a bug in the validator" in record.getMessage() or record.exc_info
               for record in caplog.records)
    job2 = RetrainJob(settings, api.load_model, validate=_no_problems,
                      train_command=_train(tmp_path, "ok"))
    job2.start()  # the lock was released: the next retrain is not refused
    assert (await job2.wait()).state == DONE
