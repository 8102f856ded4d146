"""Every code block in docs/ and the README runs, so the documentation cannot rot.

- A ```python block is executed; the blocks of one page share a namespace, in order, with the
  working directory set to a fresh temporary directory.
- A ```python block preceded by ``<!-- docs: pytest [ARGS] -->`` is a test module: it is written
  to a file and run by pytest (with ARGS, the plugin active) in a subprocess, and must pass.
- ``<!-- docs: conftest -->`` marks a block as the conftest.py for the page's pytest blocks.
- ``<!-- docs: skip -->`` marks a block that is not run.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
BLOCK = re.compile(
    r"(?:^<!--\s*docs:\s*(?P<directive>[^>]*?)\s*-->\s*\n)?^```(?P<lang>[\w-]*)[^\n]*\n(?P<body>.*?)^```\s*$",
    re.MULTILINE | re.DOTALL,
)


@dataclass(frozen=True)
class Block:
    page: Path
    line: int
    lang: str
    directive: str
    body: str


def blocks(page: Path) -> list[Block]:
    text = page.read_text(encoding="utf-8")
    out = []
    for m in BLOCK.finditer(text):
        out.append(Block(page, text.count("\n", 0, m.start("body")) + 1, m.group("lang"),
                         (m.group("directive") or "").strip(), m.group("body")))
    return out


def _python(page: Path, kind: str) -> list[Block]:
    return [b for b in blocks(page) if b.lang == "python" and b.directive.split(" ")[0] == kind]


EXEC_PAGES = [p for p in PAGES if _python(p, "")]
PYTEST_BLOCKS = [b for p in PAGES for b in _python(p, "pytest")]


@pytest.mark.parametrize("page", EXEC_PAGES, ids=lambda p: p.name)
def test_python_blocks_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": f"docs_{page.stem}"}
    for block in _python(page, ""):
        code = compile(block.body, f"{page.relative_to(ROOT)}:{block.line}", "exec")
        exec(code, namespace)


@pytest.mark.parametrize("block", PYTEST_BLOCKS, ids=lambda b: f"{b.page.name}:{b.line}")
def test_pytest_blocks_pass(block: Block, pytester: pytest.Pytester) -> None:
    conftests = _python(block.page, "conftest")
    if conftests:
        pytester.makeconftest("\n\n".join(b.body for b in conftests))
    pytester.makepyfile(**{f"test_docs_{block.page.stem}_{block.line}": block.body})
    args = shlex.split(block.directive)[1:]
    env_args = ["-p", "no:cacheprovider"]
    result = pytester.runpytest_subprocess(*env_args, *args)
    assert result.ret == 0, f"{block.page.name}:{block.line}\n" + result.stdout.str()


def test_every_page_is_linked_from_the_index() -> None:
    index = (ROOT / "docs" / "index.md").read_text(encoding="utf-8")
    missing = [p.name for p in PAGES if p.parent.name == "docs" and p.name != "index.md" and p.name not in index]
    assert not missing, f"docs/index.md does not link {missing}"


def test_no_bare_python_fences_outside_convention() -> None:
    # A typo in a directive would silently skip a block: every directive must be known.
    for page in PAGES:
        for b in blocks(page):
            if b.directive:
                assert b.directive.split(" ")[0] in ("pytest", "conftest", "skip"), (page.name, b.line, b.directive)



def test_configuration_page_lists_every_option() -> None:
    from pytest_mlgate.settings import OPTIONS

    text = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    missing = [o.ini for o in OPTIONS if f"`{o.ini}`" not in text]
    missing += [o.flag for o in OPTIONS if o.flag and f"`{o.flag}" not in text]
    assert not missing, f"docs/configuration.md does not document {missing}"


def test_cli_page_documents_every_command() -> None:
    import argparse

    from pytest_mlgate.cli import build_parser

    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    text = (ROOT / "docs" / "cli.md").read_text(encoding="utf-8")
    commands = set(sub.choices)
    assert {"list", "show", "verify", "promote", "diff", "drift", "baseline"} <= commands
    missing = [c for c in commands if f"mlgate {c}" not in text]
    assert not missing, f"docs/cli.md does not document {missing}"


def test_readme_shows_the_command_its_first_snippet_is_tested_with() -> None:
    """A reader runs what the page shows, not what an HTML comment hides."""
    readme = ROOT / "README.md"
    (first, *_) = _python(readme, "pytest")
    args = first.directive.removeprefix("pytest").strip()
    visible = re.sub(r"<!--.*?-->", "", readme.read_text(encoding="utf-8"), flags=re.DOTALL)
    assert f"$ pytest {args} " in visible or f"$ pytest {args}\n" in visible
