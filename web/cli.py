"""Management commands on the `flask` CLI (`flask --help` lists them)."""

from __future__ import annotations

import sys

import click
from flask import Flask

from common import db
from common.errors import AppError
from common.users import service as users
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile


def register_cli(app: Flask) -> None:
    for command in (create_admin, grant_tokens, reset_db, reconcile_command):
        app.cli.add_command(command)


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Admin", show_default=True)
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account, or promote an existing one."""
    user = User.objects(email=users.normalise_email(email)).first()
    if user is None:
        if len(password) < 8:
            raise click.ClickException("The password must have at least 8 characters.")
        try:
            user = users.register(email, password, name, role="admin")
        except AppError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"Created admin {user.email} ({user.id})")
    else:
        User.objects(id=user.id).update_one(set__role="admin")
        click.echo(f"Promoted {user.email} ({user.id}) to admin")


@click.command("grant-tokens")
@click.argument("email")
@click.argument("amount", type=click.IntRange(min=1))
@click.option("--reason", default="manual grant", show_default=True)
@click.option("--key", default=None, help="Idempotency key (default: a new one).")
def grant_tokens(email: str, amount: int, reason: str, key: str | None) -> None:
    """Credit AMOUNT purchased tokens to the user with EMAIL (a ledger entry)."""
    from bson import ObjectId

    user = User.objects(email=users.normalise_email(email)).first()
    if user is None:
        raise click.ClickException(f"No user with email {email}")
    key = key or f"cli-grant-{ObjectId()}"
    try:
        _, applied = wallet.credit(user.id, amount, key, "cli", details={"reason": reason})
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    user.reload()
    verb = "Granted" if applied else "Already granted"
    click.echo(f"{verb} {amount} tokens to {user.email}; balance {user.tokens.balance}")


@click.command("reset-db")
@click.confirmation_option(prompt="This deletes every user, chat, payment and ledger entry. Go on?")
def reset_db() -> None:
    """Drop the whole database."""
    database = db.get_db()
    database.client.drop_database(database.name)
    _recreate_indexes()
    click.echo(f"Dropped database {database.name}; indexes created again")


def _recreate_indexes() -> None:
    """mongoengine creates indexes once per process; after a drop the unique keys must return."""
    from mongoengine.base.common import _document_registry

    for cls in list(_document_registry.values()):
        meta = getattr(cls, "_meta", {})
        if meta.get("abstract") or not getattr(cls, "_is_document", False):
            continue
        cls.ensure_indexes()


@click.command("reconcile")
def reconcile_command() -> None:
    """Recompute every balance from the ledger; exit 1 if any differs."""
    finished = wallet.apply_pending(older_than_seconds=0)
    if finished:
        click.echo(f"Finished {finished} pending ledger entries first.")
    differences = reconcile()
    count = User.objects.count()
    if not differences:
        click.echo(f"OK: {count} users, every balance matches the ledger.")
        return
    for diff in differences:
        click.echo(f"MISMATCH {diff.email} ({diff.user_id}): " + "; ".join(diff.problems))
    click.echo(f"{len(differences)} of {count} users differ from the ledger.")
    sys.exit(1)
