"""Data access: accounts and portal sessions, data-access contracts, API clients and tokens, mandates,
webhook deliveries, the append-only access log, user-port requests, export jobs, API use and incidents
(issue 6).

Revision ID: 0004_data_access
Revises: 0003_access_register
Create Date: 2026-11-24
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_data_access"
down_revision: str | Sequence[str] | None = "0003_access_register"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    """Create the data-access tables; make the access log append-only."""
    op.create_table(
        "api_usage",
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("call", sa.String(length=120), nullable=False),
        sa.Column("version", sa.String(length=8), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("refused", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("day", "client_id", "call", "version", name=op.f("pk_api_usage")),
    )
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("resolved_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "access_log",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("actor_kind", sa.String(length=20), nullable=False),
        sa.Column("actor", sa.String(length=100), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("ean", sa.String(length=18), nullable=True),
        sa.Column("service", sa.String(length=20), nullable=False),
        sa.Column("data_from", sa.Date(), nullable=True),
        sa.Column("data_to", sa.Date(), nullable=True),
        sa.Column("mandate_id", sa.String(length=36), nullable=True),
        sa.Column(
            "outcome",
            sa.Enum("allowed", "refused", name="access_outcome", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("reason", sa.String(length=200), nullable=True),
        sa.Column("route", sa.String(length=200), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_access_log_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_access_log")),
    )
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_access_log_at"), ["at"], unique=False)
        batch_op.create_index(batch_op.f("ix_access_log_ean"), ["ean"], unique=False)

    op.create_table(
        "accounts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("login", sa.String(length=254), nullable=False),
        sa.Column("password_hash", sa.Text(), nullable=True),
        sa.Column("oidc_subject", sa.String(length=300), nullable=True),
        sa.Column(
            "role",
            sa.Enum(
                "grid_user",
                "operator",
                "supplier",
                "provider",
                "group_manager",
                name="account_role",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("customer_ref", sa.String(length=64), nullable=True),
        sa.Column("party_id", sa.Integer(), nullable=True),
        sa.Column("language", sa.String(length=2), nullable=False),
        sa.Column("name_sealed", sa.Text(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["party_id"], ["parties.id"], name=op.f("fk_accounts_party_id_parties")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_accounts")),
        sa.UniqueConstraint("login", name=op.f("uq_accounts_login")),
        sa.UniqueConstraint("oidc_subject", name=op.f("uq_accounts_oidc_subject")),
    )
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_accounts_customer_ref"), ["customer_ref"], unique=False)

    op.create_table(
        "data_access_contracts",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("party_id", sa.Integer(), nullable=False),
        sa.Column("reference", sa.String(length=64), nullable=False),
        sa.Column("valid_from", sa.Date(), nullable=False),
        sa.Column("valid_to", sa.Date(), nullable=True),
        sa.Column("webhook_url", sa.String(length=2000), nullable=True),
        sa.Column("webhook_secret_sealed", sa.Text(), nullable=False),
        sa.Column("registered_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("registered_by", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["party_id"], ["parties.id"], name=op.f("fk_data_access_contracts_party_id_parties")
        ),
        sa.ForeignKeyConstraint(
            ["registered_by"], ["accounts.id"], name=op.f("fk_data_access_contracts_registered_by_accounts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_data_access_contracts")),
        sa.UniqueConstraint("reference", name=op.f("uq_data_access_contracts_reference")),
    )
    with op.batch_alter_table("data_access_contracts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_data_access_contracts_party_id"), ["party_id"], unique=False)

    op.create_table(
        "portal_sessions",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_portal_sessions_account_id_accounts")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_portal_sessions")),
    )
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_portal_sessions_account_id"), ["account_id"], unique=False)

    op.create_table(
        "user_port_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column(
            "action",
            sa.Enum("open", "close", name="port_action", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column(
            "status",
            sa.Enum(
                "pending",
                "done",
                "failed",
                name="port_request_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("due_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("done_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("open_until", sa.Date(), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_user_port_requests_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["ean"], ["access_points.ean"], name=op.f("fk_user_port_requests_ean_access_points")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_user_port_requests")),
    )
    with op.batch_alter_table("user_port_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_user_port_requests_ean"), ["ean"], unique=False)

    op.create_table(
        "api_clients",
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["data_access_contracts.id"],
            name=op.f("fk_api_clients_contract_id_data_access_contracts"),
        ),
        sa.PrimaryKeyConstraint("client_id", name=op.f("pk_api_clients")),
    )
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_clients_contract_id"), ["contract_id"], unique=False)

    op.create_table(
        "mandates",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column(
            "subject_kind",
            sa.Enum(
                "access_point", "enterprise", name="subject_kind", native_enum=False, create_constraint=True
            ),
            nullable=False,
        ),
        sa.Column("subject", sa.String(length=32), nullable=False),
        sa.Column("services", sa.String(length=200), nullable=False),
        sa.Column("data_from", sa.Date(), nullable=False),
        sa.Column("data_to", sa.Date(), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("provider_reference", sa.String(length=100), nullable=False),
        sa.Column("return_url", sa.String(length=2000), nullable=True),
        sa.Column(
            "status",
            sa.Enum(
                "requested",
                "approved",
                "refused",
                "revoked",
                "expired",
                name="mandate_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("consent_token_hash", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("decided_by", sa.Integer(), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("renews", sa.String(length=36), nullable=True),
        sa.Column("reminded_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["data_access_contracts.id"],
            name=op.f("fk_mandates_contract_id_data_access_contracts"),
        ),
        sa.ForeignKeyConstraint(
            ["decided_by"], ["accounts.id"], name=op.f("fk_mandates_decided_by_accounts")
        ),
        sa.ForeignKeyConstraint(["renews"], ["mandates.id"], name=op.f("fk_mandates_renews_mandates")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_mandates")),
        sa.UniqueConstraint("consent_token_hash", name=op.f("uq_mandates_consent_token_hash")),
    )
    with op.batch_alter_table("mandates", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_mandates_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_mandates_subject"), ["subject"], unique=False)
        batch_op.create_index(batch_op.f("ix_mandates_updated_at"), ["updated_at"], unique=False)

    op.create_table(
        "webhook_deliveries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contract_id", sa.Integer(), nullable=False),
        sa.Column("event_id", sa.String(length=36), nullable=False),
        sa.Column("event", sa.String(length=40), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("delivered_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("last_status", sa.Integer(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["contract_id"],
            ["data_access_contracts.id"],
            name=op.f("fk_webhook_deliveries_contract_id_data_access_contracts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_webhook_deliveries")),
        sa.UniqueConstraint("event_id", name=op.f("uq_webhook_deliveries_event_id")),
    )
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_webhook_deliveries_contract_id"), ["contract_id"], unique=False)
        batch_op.create_index(
            batch_op.f("ix_webhook_deliveries_next_attempt_at"), ["next_attempt_at"], unique=False
        )

    op.create_table(
        "api_tokens",
        sa.Column("token_hash", sa.String(length=64), nullable=False),
        sa.Column(
            "kind",
            sa.Enum("client", "personal", name="token_kind", native_enum=False, create_constraint=True),
            nullable=False,
        ),
        sa.Column("client_id", sa.String(length=64), nullable=True),
        sa.Column("account_id", sa.Integer(), nullable=True),
        sa.Column("label", sa.String(length=100), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(
            ["account_id"], ["accounts.id"], name=op.f("fk_api_tokens_account_id_accounts")
        ),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.client_id"], name=op.f("fk_api_tokens_client_id_api_clients")
        ),
        sa.PrimaryKeyConstraint("token_hash", name=op.f("pk_api_tokens")),
    )
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_tokens_account_id"), ["account_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_api_tokens_client_id"), ["client_id"], unique=False)

    op.create_table(
        "export_jobs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("client_id", sa.String(length=64), nullable=False),
        sa.Column("mandate_id", sa.String(length=36), nullable=False),
        sa.Column("ean", sa.String(length=18), nullable=False),
        sa.Column("granularity", sa.String(length=10), nullable=False),
        sa.Column("data_from", sa.Date(), nullable=False),
        sa.Column("data_to", sa.Date(), nullable=False),
        sa.Column(
            "status",
            sa.Enum(
                "queued",
                "running",
                "done",
                "failed",
                name="export_status",
                native_enum=False,
                create_constraint=True,
            ),
            nullable=False,
        ),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("rows", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["client_id"], ["api_clients.client_id"], name=op.f("fk_export_jobs_client_id_api_clients")
        ),
        sa.ForeignKeyConstraint(
            ["mandate_id"], ["mandates.id"], name=op.f("fk_export_jobs_mandate_id_mandates")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_export_jobs")),
    )
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_export_jobs_client_id"), ["client_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_export_jobs_status"), ["status"], unique=False)

    _append_only()


def downgrade() -> None:
    """Drop the data-access tables."""
    _drop_append_only()
    with op.batch_alter_table("export_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_export_jobs_status"))
        batch_op.drop_index(batch_op.f("ix_export_jobs_client_id"))

    op.drop_table("export_jobs")
    with op.batch_alter_table("api_tokens", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_tokens_client_id"))
        batch_op.drop_index(batch_op.f("ix_api_tokens_account_id"))

    op.drop_table("api_tokens")
    with op.batch_alter_table("webhook_deliveries", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_next_attempt_at"))
        batch_op.drop_index(batch_op.f("ix_webhook_deliveries_contract_id"))

    op.drop_table("webhook_deliveries")
    with op.batch_alter_table("mandates", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_mandates_updated_at"))
        batch_op.drop_index(batch_op.f("ix_mandates_subject"))
        batch_op.drop_index(batch_op.f("ix_mandates_contract_id"))

    op.drop_table("mandates")
    with op.batch_alter_table("api_clients", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_clients_contract_id"))

    op.drop_table("api_clients")
    with op.batch_alter_table("user_port_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_user_port_requests_ean"))

    op.drop_table("user_port_requests")
    with op.batch_alter_table("portal_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_portal_sessions_account_id"))

    op.drop_table("portal_sessions")
    with op.batch_alter_table("data_access_contracts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_data_access_contracts_party_id"))

    op.drop_table("data_access_contracts")
    with op.batch_alter_table("accounts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_accounts_customer_ref"))

    op.drop_table("accounts")
    with op.batch_alter_table("access_log", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_access_log_ean"))
        batch_op.drop_index(batch_op.f("ix_access_log_at"))

    op.drop_table("access_log")
    op.drop_table("incidents")
    op.drop_table("api_usage")


_REFUSAL = "the access log is append-only"


def _append_only() -> None:
    """Triggers that refuse UPDATE and DELETE on ``access_log`` (issue 6: the audit log is append-only)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION access_log_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            f"$$ BEGIN RAISE EXCEPTION '{_REFUSAL}'; END $$"
        )
        op.execute(
            "CREATE TRIGGER access_log_append_only BEFORE UPDATE OR DELETE ON access_log "
            "FOR EACH ROW EXECUTE FUNCTION access_log_append_only()"
        )
        return
    for event in ("UPDATE", "DELETE"):
        op.execute(
            f"CREATE TRIGGER access_log_no_{event.lower()} BEFORE {event} ON access_log "
            f"BEGIN SELECT RAISE(ABORT, '{_REFUSAL}'); END"
        )


def _drop_append_only() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER access_log_append_only ON access_log")
        op.execute("DROP FUNCTION access_log_append_only()")
        return
    for event in ("update", "delete"):
        op.execute(f"DROP TRIGGER access_log_no_{event}")
