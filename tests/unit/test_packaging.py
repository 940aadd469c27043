"""What the wheel ships: every package of the product, and the templates and static files the web view serves."""

from __future__ import annotations

import fnmatch
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]


def test_every_package_of_the_product_is_shipped() -> None:
    found = {".".join(p.parent.relative_to(ROOT).parts) for top in ("bot", "handlers", "storage", "sandbox",
                                                                     "templates")
             for p in (ROOT / top).rglob("__init__.py")}
    assert found - set(SETUP["packages"]) == set()


def test_every_template_and_static_file_is_package_data() -> None:
    data: dict[str, list[str]] = SETUP["package-data"]
    for package, folder, suffixes in (("templates", ROOT / "templates", (".j2",)),
                                      ("bot.app.web", ROOT / "bot" / "app" / "web", (".css", ".js"))):
        for path in folder.rglob("*"):
            if path.suffix in suffixes:
                name = path.relative_to(folder).as_posix()
                assert any(fnmatch.fnmatch(name, g) for g in data[package]), f"{name} is not shipped by {package}"
