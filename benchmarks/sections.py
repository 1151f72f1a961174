"""One results file holding several benchmarks' sections, each rewritten by its own script."""

from __future__ import annotations

from pathlib import Path

__all__ = ["write_section"]


def write_section(path: Path, name: str, text: str) -> None:
    """Write ``text`` between ``<!-- name: start -->`` and ``<!-- name: end -->`` in ``path``.

    The rest of the file — other scripts' sections — is kept; a new section goes at the end.
    """
    start, end = f"<!-- {name}: start -->", f"<!-- {name}: end -->"
    section = f"{start}\n{text.rstrip()}\n{end}\n"
    old = path.read_text(encoding="utf-8") if path.exists() else ""
    if start in old and end in old:
        before, rest = old.split(start, 1)
        after = rest.split(end, 1)[1].lstrip("\n")
        new = before + section + ("\n" + after if after else "")
    else:
        new = (old.rstrip() + "\n\n" if old.strip() else "") + section
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(new, encoding="utf-8")
