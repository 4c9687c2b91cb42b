"""Simplified Chinese by default, English on request.

* Labels are declared in Chinese and are their own message ids; ``translations/en``
  holds their English (``flask i18n update`` adds every declared label to it).
* Flask-Admin's own zh_Hans_CN ``.po`` is complete but its packaged ``.mo`` lags
  behind ("Failed to create record." stays English), so the ``.po`` is compiled
  here. (Flask-Babel merges the package's ``.mo`` over ours, so we cannot reword
  strings Flask-Admin already translates; we only fill the gaps.)
* Catalogs are compiled at start-up when stale, so no generated ``.mo`` lives in git.
"""

from __future__ import annotations

import os
from pathlib import Path

import click
import flask_admin
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po, write_po
from flask import session
from flask.cli import AppGroup
from flask_babel import Babel

DEFAULT_LOCALE = "zh_Hans_CN"
TRANSLATIONS = Path(__file__).resolve().parent.parent / "translations"
ADMIN_PO = Path(flask_admin.__file__).parent / "translations" / DEFAULT_LOCALE / "LC_MESSAGES" / "admin.po"

babel = Babel()


def select_locale() -> str:
    return session.get("lang") or DEFAULT_LOCALE


def _read(path: Path) -> Catalog:
    with path.open("rb") as f:
        return read_po(f)


def _write_mo(catalog: Catalog, mo: Path) -> None:
    mo.parent.mkdir(parents=True, exist_ok=True)
    tmp = mo.with_suffix(f".mo.{os.getpid()}")
    with tmp.open("wb") as f:
        write_mo(f, catalog)
    tmp.replace(mo)  # atomic: several workers may start at once


def _stale(target: Path, *sources: Path) -> bool:
    return not target.exists() or any(s.exists() and s.stat().st_mtime > target.stat().st_mtime
                                      for s in sources)


def compile_catalogs(root: Path = TRANSLATIONS) -> None:
    for po in root.glob("*/LC_MESSAGES/messages.po"):
        mo = po.with_suffix(".mo")
        if _stale(mo, po):
            _write_mo(_read(po), mo)
    admin_mo = root / DEFAULT_LOCALE / "LC_MESSAGES" / "admin.mo"
    if ADMIN_PO.exists() and _stale(admin_mo, ADMIN_PO):
        _write_mo(_read(ADMIN_PO), admin_mo)


def init_app(app) -> None:
    compile_catalogs()
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT_LOCALE)
    app.config.setdefault("BABEL_DEFAULT_TIMEZONE", "Asia/Shanghai")
    app.config.setdefault("BABEL_TRANSLATION_DIRECTORIES", str(TRANSLATIONS))
    babel.init_app(app, locale_selector=select_locale)
    app.cli.add_command(i18n_cli)


i18n_cli = AppGroup("i18n", help="界面翻译")


@i18n_cli.command("update", help="把所有声明的中文标签加入英文目录（已有译文保留）")
def i18n_update() -> None:
    from models import declared_models
    from models.kernel.declare import Choices
    from models import CATEGORIES
    from models.kernel.paths import column_label

    from sqlalchemy import inspect as sa_inspect

    texts: set[str] = set(CATEGORIES)
    for model in declared_models():
        spec = model.__admin__
        texts.add(spec.label)
        texts.update(a.label for a in spec.actions)
        texts.update(a.confirm for a in spec.actions if a.confirm)
        for key, descriptor in sa_inspect(model).all_orm_descriptors.items():
            if key != "__mapper__":
                texts.add(column_label(model, key))
        texts.update(column_label(model, n) for n in (*spec.list_columns, *spec.details_columns))
        for transition in getattr(spec.workflow, "transitions", ()):
            texts.update([transition.label, *(p.label for p in transition.params)])
            texts.update(p.help for p in transition.params if p.help)
        texts.update(c.label for c in getattr(spec.workflow, "clocks", ()))
    for choices in Choices.__subclasses__():
        texts.update(m.label for m in choices)
    po = TRANSLATIONS / "en" / "LC_MESSAGES" / "messages.po"
    catalog = _read(po) if po.exists() else Catalog(locale="en")
    added = 0
    for text in sorted(t for t in texts if t and not t.isascii()):
        if text not in catalog:
            catalog.add(text, "")
            added += 1
    po.parent.mkdir(parents=True, exist_ok=True)
    with po.open("wb") as f:
        write_po(f, catalog, width=0, omit_header=False)
    click.echo(f"{po}: 新增 {added} 条待译文本")
