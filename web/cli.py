"""Every management command on the `flask` CLI (`flask --help` lists them).

Commands that change accounts or tokens go through the same audited admin use cases as the
admin API (`common.admin.users`), as the actor `cli`.
"""

from __future__ import annotations

import sys

import click
from bson import ObjectId
from flask import Flask

from common import db
from common.accounts import verification
from common.admin import rollups
from common.admin import users as admin_users
from common.audit.service import Actor
from common.catalog import service as catalog
from common.errors import AppError
from common.payments import plans
from common.users import service as users
from common.users.models import User
from common.wallet import service as wallet
from common.wallet.reconcile import reconcile


def register_cli(app: Flask) -> None:
    for command in (
        create_admin,
        grant_tokens,
        upgrade_user_tokens,
        reset_db,
        reconcile_command,
        seed_models,
        seed_plans,
        analytics_rebuild,
        migrate_verified_emails,
    ):
        app.cli.add_command(command)


# -- accounts and tokens -----------------------------------------------------------------------


@click.command("create-admin")
@click.option("--email", prompt=True)
@click.option("--name", default="Admin", show_default=True)
@click.password_option()
def create_admin(email: str, name: str, password: str) -> None:
    """Create an admin account, or promote an existing one."""
    user = users.find_by_email(email)
    if user is None and len(password) < 8:
        raise click.ClickException("The password must have at least 8 characters.")
    try:
        if user is None:
            user = admin_users.create_admin(Actor.cli(), email, password, name)
            click.echo(f"Created admin {user.email} ({user.id})")
        else:
            admin_users.change_role(Actor.cli(), user.id, "admin")
            click.echo(f"Promoted {user.email} ({user.id}) to admin")
    except AppError as exc:
        raise click.ClickException(exc.message) from exc


@click.command("grant-tokens")
@click.argument("email")
@click.argument("amount", type=click.IntRange(min=1))
@click.option("--reason", default="manual grant", show_default=True)
@click.option("--key", default=None, help="Idempotency key (default: a new one).")
def grant_tokens(email: str, amount: int, reason: str, key: str | None) -> None:
    """Credit AMOUNT purchased tokens to the user with EMAIL (a ledger entry)."""
    user = _user_by_email(email)
    try:
        result = admin_users.grant_tokens(Actor.cli(), user.id, amount, reason, key)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    verb = "Already granted" if result.replayed else "Granted"
    click.echo(f"{verb} {amount} tokens to {user.email}; balance {result.user.tokens.balance}")


@click.command("upgrade-user-tokens")
@click.option("--email", default=None, help="Only this user (default: every user).")
@click.option("--reset-id", default=None, help="Run id; running again with it changes nothing.")
def upgrade_user_tokens(email: str | None, reset_id: str | None) -> None:
    """Top every user's free tokens back up to FREE_TOKENS (ledger entries of kind reset)."""
    reset_id = reset_id or f"cli{ObjectId()}"
    try:
        if email:
            user = _user_by_email(email)
            result = admin_users.reset_free_tokens(Actor.cli(), user.id, reset_id)
            click.echo(f"{user.email}: added {result.amount} free tokens (run {reset_id})")
            return
        topped, added = admin_users.reset_all_free_tokens(Actor.cli(), reset_id)
    except AppError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"Topped up {topped} users with {added} free tokens in total (run {reset_id})")


def _user_by_email(email: str) -> User:
    user = users.find_by_email(email)
    if user is None:
        raise click.ClickException(f"No user with email {email}")
    return user


# -- the database and the wallet ---------------------------------------------------------------


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


# -- seeding and rebuilding ----------------------------------------------------------------------


@click.command("seed-models")
def seed_models() -> None:
    """Sync every configured provider's models into the catalog (fallback list if none answer)."""
    result = catalog.refresh_catalog()
    for name, count in result.synced.items():
        click.echo(f"{name}: {count} models")
    for name, reason in result.failed.items():
        click.echo(f"{name}: not reachable ({reason}); kept its stored models")
    if result.used_fallback:
        click.echo("No provider answered and nothing was stored: seeded the built-in free models.")
    click.echo(f"{len(result.models)} models available.")


@click.command("seed-plans")
@click.option("--overwrite", is_flag=True, help="Rewrite the default plans even if they exist.")
def seed_plans(overwrite: bool) -> None:
    """Create the default plans (idempotent: existing plans and their edits are kept)."""
    written, kept = plans.seed_defaults(overwrite=overwrite)
    click.echo(f"Plans: {written} written, {kept} already there.")


@click.command("analytics-rebuild")
def analytics_rebuild() -> None:
    """Forget the stored daily analytics figures; the next report recomputes them."""
    click.echo(f"Dropped {rollups.rebuild()} stored days; they are recomputed on demand.")


@click.command("migrate-verified-emails")
@click.option(
    "--send-links", is_flag=True, help="Mail a confirmation link to every unverified account."
)
def migrate_verified_emails(send_links: bool) -> None:
    """Accounts from before address verification: Google-linked ones become verified; the
    others stay unverified (with --send-links, each is mailed a link). Safe to run again."""
    result = verification.migrate(send_links)
    click.echo(
        f"Verified {result['googleVerified']} Google-linked accounts; "
        f"{result['unverified']} accounts are unverified"
        + (
            f", {result['linksQueued']} links queued (the workers send them)."
            if send_links
            else "."
        )
    )
