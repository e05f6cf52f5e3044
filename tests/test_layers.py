"""The layering rules of docs/architecture.md that code can check: SQL only inside ``xingqu.store``, and
no edge module borrowing another's private helpers."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src" / "xingqu"
#: Modules of the store whose import means writing SQL (or reaching past the repositories).
_SQL_MODULES = ("sqlalchemy", "xingqu.store.schema", "xingqu.store.dialects", "xingqu.store.ledger")
#: Names that only SQL needs.
_SQL_NAMES = {"TABLES", "metadata"}


def _modules(under: Path) -> list[Path]:
    return sorted(p for p in under.rglob("*.py") if "__pycache__" not in p.parts)


def _imports(tree: ast.AST) -> list[tuple[int, str, list[str]]]:
    """(line, module, names imported from it) of every import statement."""
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            out += [(node.lineno, a.name, []) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            out.append((node.lineno, node.module, [a.name for a in node.names]))
    return out


def test_sql_is_written_only_inside_the_store() -> None:
    offences = []
    for path in _modules(SRC):
        rel = path.relative_to(SRC)
        if rel.parts[0] == "store":
            continue
        for line, module, names in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            sql_module = any(module == m or module.startswith(m + ".") for m in _SQL_MODULES)
            if sql_module or set(names) & _SQL_NAMES:
                offences.append(f"{rel}:{line} imports {module} {names or ''}".strip())
    assert offences == [], "SQL outside src/xingqu/store:\n" + "\n".join(offences)


def test_the_scan_finds_sql_where_it_is() -> None:
    """The rule above is not vacuous: the store's own modules are what it would flag."""
    flagged = [
        p.name
        for p in _modules(SRC / "store")
        if any(
            m == "sqlalchemy" or m.startswith("sqlalchemy.") for _, m, _ in _imports(ast.parse(p.read_text()))
        )
    ]
    assert {"store.py", "catalogue.py", "events.py", "rollup_reads.py", "governance.py"} <= set(flagged)


def test_no_cli_module_borrows_another_cli_modules_private_helpers() -> None:
    offences = []
    for path in _modules(SRC / "cli"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        modules = set()  # other cli modules imported whole (``from xingqu.cli import data``)
        for line, module, names in _imports(tree):
            if module == "xingqu.cli":
                modules |= {n for n in names if n != path.stem}
            elif module.startswith("xingqu.cli.") and module != f"xingqu.cli.{path.stem}":
                private = [n for n in names if n.startswith("_")]
                if private:
                    offences.append(f"cli/{path.name}:{line} imports {', '.join(private)} from {module}")
        for node in ast.walk(tree):
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id in modules
                and node.attr.startswith("_")
            ):
                offences.append(f"cli/{path.name}:{node.lineno} uses {node.value.id}.{node.attr}")
    assert offences == [], "\n".join(offences)


def test_settings_are_read_once_by_the_runtime() -> None:
    """Only ``xingqu.runtime`` reads the settings (``Settings()``); everything else is handed them."""
    readers = []
    for path in _modules(SRC):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "Settings":
                readers.append(f"{path.relative_to(SRC)}:{node.lineno}")
    assert [r.split(":")[0] for r in readers] == ["runtime.py"], readers
