"""Personal shopping lists on the command line: ``regulars lists …``.

``evaluate`` runs the repurchase model on a public next-basket split and writes its
predictions in the reality-check file shape (``{"user": [item, …]}``, best first), so they
can be scored by this command, by ``benchmarks/nbr.py`` or by the paper's own scripts.
"""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from regulars.analytics.nbr_data import Format, nbr_metrics, ranked_lists, read_split
from regulars.analytics.repurchase import fit

console = Console()
err = Console(stderr=True)
lists_app = typer.Typer(
    help="Personal shopping lists: predict each member's next needs.", no_args_is_help=True
)


class SplitFormat(StrEnum):
    """The public next-basket splits ``lists evaluate`` reads."""

    tafeng = "tafeng"
    dunnhumby = "dunnhumby"


@lists_app.callback()
def lists_main() -> None:
    """Personal shopping lists: predict each member's next needs."""


@lists_app.command("evaluate")
def lists_evaluate(
    history: Annotated[Path, typer.Option(help="history file (Ta-Feng JSON or dunnhumby CSV)")],
    future: Annotated[Path, typer.Option(help="the next basket of each user to predict for")],
    out: Annotated[Path, typer.Option(help="where to write {user: [items…]} (JSON)")],
    k: Annotated[int, typer.Option(min=1, help="items predicted per user")] = 10,
    format: Annotated[
        SplitFormat | None, typer.Option(help="split format; detected from the suffix if omitted")
    ] = None,
    valid: Annotated[
        Path | None,
        typer.Option(
            help="next baskets of other users to learn the weights on (dunnhumby "
            "valid_baskets.csv); without it each user's last history basket is held out"
        ),
    ] = None,
) -> None:
    """Predict the next basket of every user in FUTURE who has a history, and score it."""
    fmt: Format | None = None if format is None else format.value
    try:
        split = read_split(history, future, format=fmt)
        target = None if valid is None else read_split(history, valid, format=split.format).future
    except (OSError, ValueError) as exc:
        err.print(f"[red]{exc}[/red]")
        raise typer.Exit(2) from exc
    users = split.future["user_id"].unique().sort().to_list()
    if not users:
        err.print("[red]no user in the future file has a history[/red]")
        raise typer.Exit(2)
    model = fit(split.history, target=target)
    ranked = model.top_k(users, k)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(ranked_lists(ranked)), encoding="utf-8")
    scores = nbr_metrics(ranked, split.future, ks=(k,))
    table = Table("users", f"recall@{k}", f"NDCG@{k}", f"PHR@{k}", title=f"{split.format}")
    table.add_row(
        str(len(users)),
        f"{scores[f'recall@{k}']:.4f}",
        f"{scores[f'ndcg@{k}']:.4f}",
        f"{scores[f'phr@{k}']:.4f}",
    )
    console.print(table)
    console.print(f"predictions for {len(users)} users written to {out}")
