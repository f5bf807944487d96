"""A static HTML page of sections (text, tables, PNG images), written with its images as one directory.

    page = Page("dreamgen demo")
    page.add(Section("Losses", [Image(Path("run/loss.png"), "world model"), Table(["a", "b"], [[1, 2]])]))
    page.write(Path("report"))      # report/index.html + report/img/*.png, swapped in whole (AtomicDir)

No JavaScript and no external stylesheet: the page opens from disk anywhere. Images are copied next
to the page (img/NN_name.png), so the directory can be moved or archived alone; every text is
escaped. A block whose source is missing is shown as a line that says so (a stage that did not
run), never as a broken image.
"""

from __future__ import annotations

import html
import math
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path

from dreamgen_core.atomic import AtomicDir, write_text_atomic

INDEX = "index.html"
IMAGES = "img"
STYLE = """body{font-family:sans-serif;max-width:1100px;margin:2em auto;color:#222}
h1{font-size:1.5em}h2{font-size:1.2em;border-bottom:1px solid #ccc;margin-top:2em}
table{border-collapse:collapse;margin:.5em 0;font-size:.9em}td,th{border:1px solid #ccc;padding:3px 8px;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}figure{display:inline-block;margin:.5em}
figcaption{font-size:.85em;color:#555}img{max-width:520px;border:1px solid #ddd}.missing{color:#a33}"""


@dataclass(frozen=True)
class Text:
    text: str
    missing: bool = False  # shown as a warning: an artefact that is not there


@dataclass(frozen=True)
class Table:
    header: list[str]
    rows: list[list[object]]


@dataclass(frozen=True)
class Image:
    path: Path
    caption: str


Block = Text | Table | Image


@dataclass
class Section:
    title: str
    blocks: list[Block] = field(default_factory=list)


@dataclass
class Page:
    title: str
    intro: str = ""
    sections: list[Section] = field(default_factory=list)

    def add(self, section: Section) -> None:
        self.sections.append(section)

    def write(self, out: Path) -> Path:
        """Write `out`/index.html and its images (the directory replaced whole); returns the page's path."""
        with AtomicDir(Path(out)) as build:
            (build / IMAGES).mkdir()
            body = [f"<h1>{_esc(self.title)}</h1>"] + ([f"<p>{_esc(self.intro)}</p>"] if self.intro else [])
            count = 0
            for section in self.sections:
                body.append(f"<h2>{_esc(section.title)}</h2>")
                for block in section.blocks:
                    if isinstance(block, Image) and block.path.is_file():
                        count += 1
                        name = f"{count:02d}_{_slug(block.path.name)}"
                        shutil.copyfile(block.path, build / IMAGES / name)
                    body.append(_render(block, f"{IMAGES}/{name}" if isinstance(block, Image) and block.path.is_file()
                                        else None))
            write_text_atomic(build / INDEX, "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                              f"<title>{_esc(self.title)}</title><style>{STYLE}</style></head><body>\n"
                              + "\n".join(body) + "\n</body></html>\n")
        return Path(out) / INDEX


def _render(block: Block, image_src: str | None) -> str:
    if isinstance(block, Text):
        return f"<p class=\"missing\">{_esc(block.text)}</p>" if block.missing else f"<p>{_esc(block.text)}</p>"
    if isinstance(block, Table):
        head = "".join(f"<th>{_esc(h)}</th>" for h in block.header)
        rows = "".join("<tr>" + "".join(f"<td>{_esc(_cell(v))}</td>" for v in row) + "</tr>" for row in block.rows)
        return f"<table><tr>{head}</tr>{rows}</table>"
    if image_src is None:
        return f"<p class=\"missing\">{_esc(block.caption)}: not produced ({_esc(str(block.path))} is missing)</p>"
    caption = _esc(block.caption)
    return f"<figure><img src=\"{_esc(image_src)}\" alt=\"{caption}\"><figcaption>{caption}</figcaption></figure>"


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "n/a" if math.isnan(value) else f"{value:.4g}"
    return str(value)


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


def _slug(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", name)
