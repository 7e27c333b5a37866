"""The hub serves the widget's files and the /demo shop page."""

from __future__ import annotations

from pathlib import Path

from bot.hub.app import create_app
from bot.settings import Settings
from channels.webchat import STATIC_DIR

from tests.support import PROJECT


def hub_settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"RAPPORT_HOME": str(PROJECT), "RAPPORT_VAR_DIR": str(tmp_path),
                              "RAPPORT_HUB_PORT": "8181", "RAPPORT_RASA_PORT": "5105", **env})


async def test_the_widget_files_are_served(aiohttp_client, tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(hub_settings(tmp_path)))
    for name, kind in (("rapport.js", "application/javascript"), ("rapport.css", "text/css")):
        answer = await client.get(f"/widget/{name}")
        assert answer.status == 200
        assert answer.headers["Content-Type"].startswith(kind)
        assert answer.headers["X-Content-Type-Options"] == "nosniff"
        assert "max-age" in answer.headers["Cache-Control"]
        assert await answer.read() == (STATIC_DIR / name).read_bytes()
    assert (await client.get("/widget/../app.py")).status == 404
    assert (await client.get("/widget/other.js")).status == 404


def test_the_widget_loads_nothing_from_elsewhere_and_never_writes_html() -> None:
    script = (STATIC_DIR / "rapport.js").read_text()
    styles = (STATIC_DIR / "rapport.css").read_text()
    for forbidden in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(",
                      "new Function"):
        assert forbidden not in script, forbidden
    for text in (script, styles):
        assert "//cdn" not in text and "@import" not in text and "googleapis" not in text
    assert len(script.splitlines()) < 450


async def test_the_demo_page_embeds_the_widget(aiohttp_client, tmp_path: Path) -> None:
    client = await aiohttp_client(create_app(hub_settings(tmp_path)))
    answer = await client.get("/demo")
    assert answer.status == 200
    html = await answer.text()
    assert "Lumen &amp; Oak" in html
    assert 'src="http://127.0.0.1:8181/widget/rapport.js"' in html
    assert 'data-rasa-url="http://127.0.0.1:5105"' in html
    policy = answer.headers["Content-Security-Policy"]
    assert "script-src http://127.0.0.1:8181" in policy
    assert "connect-src http://127.0.0.1:5105" in policy
    assert "'unsafe-inline'" not in policy


async def test_the_demo_page_behind_a_proxy_uses_the_public_url(aiohttp_client,
                                                                tmp_path: Path) -> None:
    settings = hub_settings(tmp_path, RAPPORT_PUBLIC_URL="https://chat.lumenoak.example/")
    client = await aiohttp_client(create_app(settings))
    answer = await client.get("/demo")
    html = await answer.text()
    assert 'src="https://chat.lumenoak.example/widget/rapport.js"' in html
    assert 'data-rasa-url="https://chat.lumenoak.example"' in html
    assert "connect-src https://chat.lumenoak.example" in answer.headers["Content-Security-Policy"]


async def test_the_demo_page_without_brand_files_still_works(aiohttp_client,
                                                             tmp_path: Path) -> None:
    settings = hub_settings(tmp_path).with_changes(home=tmp_path)
    client = await aiohttp_client(create_app(settings))
    answer = await client.get("/demo")
    assert answer.status == 200 and "Rapport" in await answer.text()
