"""The schema, as SQLAlchemy Core tables. Alembic migrations must produce exactly this.

Money and points are integers (minor units / whole points). Every row carries its
`tenant_id` so that every query can be scoped to the caller's tenant.
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    CheckConstraint,
    Column,
    Date,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)

from patron.db.types import Id, Json, UTCDateTime

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


def _tenant() -> Column[int]:
    return Column("tenant_id", Id, ForeignKey("tenants.id"), nullable=False)


tenants = Table(
    "tenants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("created_at", UTCDateTime, nullable=False),
)

brands = Table(
    "brands",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # Coalition partners: the brand's own currency (NULL: the program's) and when it left
    # the coalition (its members' points stay valid; it can no longer issue points).
    Column("currency", String(3), nullable=True),
    Column("left_at", UTCDateTime, nullable=True),
    UniqueConstraint("tenant_id", "code", name="uq_brands_tenant_code"),
)

api_keys = Table(
    "api_keys",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("brand_id", Id, ForeignKey("brands.id"), nullable=True),
    Column("key_id", String(32), nullable=False, unique=True),
    Column("secret_hash", String(64), nullable=False),
    Column("scopes", String(100), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("revoked_at", UTCDateTime, nullable=True),
)

programs = Table(
    "programs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("points_name", String(64), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("time_zone", String(64), nullable=False),
    # point value: `point_value_points` points are worth `point_value_amount` minor units.
    Column("point_value_points", Integer, nullable=False),
    Column("point_value_amount", BigInteger, nullable=False),
    # base earning: `earn_points` points per `earn_per_amount` minor units of eligible spend.
    Column("earn_points", Integer, nullable=False),
    Column("earn_per_amount", BigInteger, nullable=False),
    Column("rounding", String(16), nullable=False),
    Column("include_shipping", Boolean, nullable=False),
    Column("include_tax", Boolean, nullable=False),
    Column("pending_days", Integer, nullable=False),
    Column("refund_policy", String(16), nullable=False),
    Column("auto_enroll", Boolean, nullable=False),
    Column("is_default", Boolean, nullable=False),
    # Expiry policy and tier ladder, as their domain values serialised (NULL: never
    # expire / no tiers). Validated by the domain before they are stored.
    Column("expiry", Json, nullable=True),
    Column("tiers", Json, nullable=True),
    # A new random value at every earning-rule change, so caches of compiled rules reload.
    Column("rules_revision", Integer, nullable=False, server_default="0"),
    # The referral policy (domain value serialised; NULL: referrals off).
    Column("referral_policy", Json, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "code", name="uq_programs_tenant_code"),
    CheckConstraint("point_value_points > 0 AND point_value_amount > 0", name="point_value"),
    CheckConstraint("earn_points >= 0 AND earn_per_amount > 0", name="earn_rate"),
    CheckConstraint("pending_days >= 0", name="pending_days"),
)

members = Table(
    "members",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("email", String(320), nullable=True),
    Column("first_name", String(200), nullable=True),
    Column("last_name", String(200), nullable=True),
    Column("phone", String(32), nullable=True),
    Column("birthday", Date, nullable=True),
    Column("locale", String(16), nullable=True),
    Column("tags", Json, nullable=False),
    Column("marketing_consent", Boolean, nullable=False),
    Column("status", String(16), nullable=False),
    Column("enrolled_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    # When the birthday was last set or changed (campaigns: "set at least N days before").
    Column("birthday_set_at", UTCDateTime, nullable=True),
    UniqueConstraint("program_id", "external_id", name="uq_members_program_external"),
    CheckConstraint("status IN ('active', 'blocked')", name="status"),
)

member_balances = Table(
    "member_balances",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("asset", String(32), primary_key=True),
    _tenant(),
    Column("available", BigInteger, nullable=False),
    Column("pending", BigInteger, nullable=False),
    Column("debt", BigInteger, nullable=False),
    Column("lifetime_earned", BigInteger, nullable=False),
    # The backstop: whatever the code does, a balance is never spent below zero. A
    # clawback that finds no points records `debt` instead (explicit, never hidden).
    CheckConstraint("available >= 0", name="available_not_negative"),
    CheckConstraint("pending >= 0", name="pending_not_negative"),
    CheckConstraint("debt >= 0", name="debt_not_negative"),
)

ledger_transactions = Table(
    "ledger_transactions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=True),
    Column("kind", String(32), nullable=False),
    Column("event_id", Id, ForeignKey("events.id"), nullable=True),
    Column("order_id", Id, ForeignKey("orders.id"), nullable=True),
    Column("redemption_id", Id, ForeignKey("redemptions.id"), nullable=True),
    Column("api_key_id", Id, ForeignKey("api_keys.id"), nullable=True),
    Column("reason", Text, nullable=True),
    Column("details", Json, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Index("ix_ledger_transactions_member", "member_id", "id"),
    Index("ix_ledger_transactions_order", "order_id"),
)

lots = Table(
    "lots",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("asset", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("remaining", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),
    Column("pending_until", UTCDateTime, nullable=True),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("remaining >= 0 AND remaining <= amount", name="remaining_within_amount"),
    CheckConstraint("state IN ('pending', 'available')", name="state"),
    Index("ix_lots_member_open", "member_id", "asset", "state", "remaining"),
    # The expiry and release jobs find their lots by date without scanning spent ones.
    Index(
        "ix_lots_expiring",
        "expires_at",
        postgresql_where=text("remaining > 0 AND expires_at IS NOT NULL"),
        sqlite_where=text("remaining > 0 AND expires_at IS NOT NULL"),
    ),
    Index(
        "ix_lots_maturing",
        "pending_until",
        postgresql_where=text("state = 'pending'"),
        sqlite_where=text("state = 'pending'"),
    ),
)

ledger_entries = Table(
    "ledger_entries",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
    _tenant(),
    Column("account", String(96), nullable=False),
    Column("asset", String(32), nullable=False),
    Column("amount", BigInteger, nullable=False),
    Column("lot_id", Id, ForeignKey("lots.id"), nullable=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=True),
    CheckConstraint("amount <> 0", name="amount_not_zero"),
    Index("ix_ledger_entries_transaction", "transaction_id"),
    Index("ix_ledger_entries_member", "member_id"),
    Index("ix_ledger_entries_lot", "lot_id"),
)

events = Table(
    "events",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("source", String(32), nullable=False),
    Column("type", String(64), nullable=False),
    Column("source_id", String(128), nullable=False),
    Column("brand_id", Id, ForeignKey("brands.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=True),
    Column("payload", Json, nullable=False),
    Column("result", Json, nullable=True),
    Column("occurred_at", UTCDateTime, nullable=False),
    Column("received_at", UTCDateTime, nullable=False),
    # Exactly once: the source id is unique per tenant, brand (each brand is its own
    # store, so two brands may both have an order "1001"), source and type of event.
    UniqueConstraint(
        "tenant_id", "brand_id", "source", "type", "source_id", name="uq_events_source"
    ),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("brand_id", Id, ForeignKey("brands.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("external_id", String(128), nullable=False),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("order_discount", BigInteger, nullable=False),
    Column("shipping", BigInteger, nullable=False),
    Column("tax", BigInteger, nullable=False),
    Column("total", BigInteger, nullable=False),
    Column("eligible_amount", BigInteger, nullable=False),
    Column("points_awarded", BigInteger, nullable=False),
    Column("points_reversed", BigInteger, nullable=False),
    # Store credit (cashback) the order earned and what refunds took back of it.
    Column("credit_awarded", BigInteger, nullable=False, server_default="0"),
    Column("credit_reversed", BigInteger, nullable=False, server_default="0"),
    Column("merchandise_refunded", BigInteger, nullable=False),
    Column("shipping_refunded", BigInteger, nullable=False),
    Column("tax_refunded", BigInteger, nullable=False),
    Column("discount_codes", Json, nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "brand_id", "external_id", name="uq_orders_brand_external"),
    Index("ix_orders_member", "member_id"),
)

order_lines = Table(
    "order_lines",
    metadata,
    Column("order_id", Id, ForeignKey("orders.id"), primary_key=True),
    Column("line_no", Integer, primary_key=True),
    Column("line_id", String(128), nullable=False),
    Column("sku", String(128), nullable=True),
    Column("category", String(128), nullable=True),
    Column("quantity", Integer, nullable=False),
    Column("unit_price", BigInteger, nullable=False),
    Column("discount", BigInteger, nullable=False),
    Column("refunded_quantity", Integer, nullable=False),
    CheckConstraint("refunded_quantity >= 0 AND refunded_quantity <= quantity", name="refunded"),
)

rewards = Table(
    "rewards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("name", String(200), nullable=False),
    Column("kind", String(32), nullable=False),
    # NULL for a variable reward, priced by `points_step`.
    Column("points_cost", BigInteger, nullable=True),
    # NULL for kinds without a money value (percent, free shipping, gift...) and variable rewards.
    Column("value_amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("code_prefix", String(16), nullable=False),
    Column("code_length", Integer, nullable=False),
    Column("validity_days", Integer, nullable=True),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    # The catalogue code (tier `reward_prices` are keyed by it); NULL on rewards made before
    # codes existed, which answer to their public id.
    Column("code", String(64), nullable=True),
    Column("description", Text, nullable=True),
    # Kind-specific terms (see services/rewards_catalogue.py).
    Column("percent", Integer, nullable=True),
    Column("max_discount_amount", BigInteger, nullable=True),
    Column("min_order_amount", BigInteger, nullable=True),
    Column("applicable_skus", Json, nullable=True),
    Column("sku", String(128), nullable=True),
    Column("quantity", Integer, nullable=True),
    Column("event_starts_at", UTCDateTime, nullable=True),
    # Variable redemption: N x points_step points for N x value_step off.
    Column("points_step", BigInteger, nullable=True),
    Column("value_step_amount", BigInteger, nullable=True),
    Column("min_points", BigInteger, nullable=True),
    Column("max_points", BigInteger, nullable=True),
    # Units left (NULL: unlimited); taken and given back under this row's lock.
    Column("stock", BigInteger, nullable=True),
    Column("per_member_limit", Integer, nullable=True),
    Column("limit_period", String(16), nullable=True),
    Column("tiers", Json, nullable=True),
    # Segment codes allowed to redeem (NULL: everyone).
    Column("segments", Json, nullable=True),
    # Membership plan codes whose holders (perks applying) may redeem (NULL: everyone).
    Column("plans", Json, nullable=True),
    Column("active_from", UTCDateTime, nullable=True),
    Column("active_to", UTCDateTime, nullable=True),
    Column("usable_from", UTCDateTime, nullable=True),
    Column("code_source", String(16), nullable=False, server_default="generated"),
    CheckConstraint("points_cost > 0", name="points_cost_positive"),
    CheckConstraint("value_amount > 0", name="value_positive"),
    Index("ix_rewards_program_code", "program_id", "code", unique=True),
)

redemptions = Table(
    "redemptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("reward_id", Id, ForeignKey("rewards.id"), nullable=False),
    Column("points", BigInteger, nullable=False),
    # NULL for a gift: it has a fulfilment record instead of a code.
    Column("code", String(64), nullable=True),
    # NULL for kinds without a money value.
    Column("value_amount", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False),
    Column("status", String(16), nullable=False),
    Column("expires_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("consumed_at", UTCDateTime, nullable=True),
    Column("consumed_order_id", String(128), nullable=True),
    Column("cancelled_at", UTCDateTime, nullable=True),
    # Gifts: requested -> shipped -> delivered, or cancelled (NULL for other kinds).
    Column("fulfilment_status", String(16), nullable=True),
    Column("fulfilment_note", Text, nullable=True),
    Column("fulfilment_updated_at", UTCDateTime, nullable=True),
    # The brand that honours the reward (coalition settlement pays it); NULL: the default.
    Column("brand_id", Id, ForeignKey("brands.id"), nullable=True),
    UniqueConstraint("tenant_id", "code", name="uq_redemptions_tenant_code"),
    CheckConstraint("status IN ('issued', 'consumed', 'cancelled')", name="status"),
    Index("ix_redemptions_member", "member_id"),
)

# Codes imported from the store platform for a reward with `code_source = 'pool'`; a
# redemption takes the next unused one under the reward's row lock.
reward_codes = Table(
    "reward_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("reward_id", Id, ForeignKey("rewards.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("redemption_id", Id, ForeignKey("redemptions.id"), nullable=True),
    Column("imported_at", UTCDateTime, nullable=False),
    UniqueConstraint("tenant_id", "code", name="uq_reward_codes_tenant_code"),
    Index(
        "ix_reward_codes_unused",
        "reward_id",
        "id",
        postgresql_where=text("redemption_id IS NULL"),
        sqlite_where=text("redemption_id IS NULL"),
    ),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("tenant_id", Id, ForeignKey("tenants.id"), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request_hash", String(64), nullable=False),
    Column("status_code", Integer, nullable=False),
    Column("response", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
)

outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=True),
    Column("type", String(64), nullable=False),
    Column("payload", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("delivered_at", UTCDateTime, nullable=True),
    Index(
        "ix_outbox_undelivered",
        "id",
        postgresql_where=text("delivered_at IS NULL"),
        sqlite_where=text("delivered_at IS NULL"),
    ),
)


earning_rules = Table(
    "earning_rules",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "code", name="uq_earning_rules_program_code"),
)

# Versions are never edited: a change is a new version with its own effective date, so an
# event is always evaluated with the rules that were in force when it occurred.
earning_rule_versions = Table(
    "earning_rule_versions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("rule_id", Id, ForeignKey("earning_rules.id"), nullable=False),
    Column("version", Integer, nullable=False),
    Column("effective_from", UTCDateTime, nullable=False),
    Column("spec", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("rule_id", "version", name="uq_earning_rule_versions_rule_version"),
    CheckConstraint("version > 0", name="version_positive"),
)

# What each rule gave each member: counted for the rule's limits and budget.
rule_awards = Table(
    "rule_awards",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("rule_id", Id, ForeignKey("earning_rules.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("scope", String(128), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("store_credit", BigInteger, nullable=False),
    Column("event_id", Id, ForeignKey("events.id"), nullable=False),
    Column("occurred_at", UTCDateTime, nullable=False),
    Index("ix_rule_awards_usage", "rule_id", "member_id", "scope", "occurred_at"),
)

# Custom event types a tenant defines: a name and the JSON schema of its payload.
event_types = Table(
    "event_types",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("description", Text, nullable=True),
    Column("payload_schema", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "name", name="uq_event_types_program_name"),
)

# A scheduled job's run for one program and period. The unique key is what makes a job
# idempotent across workers: the run that inserts the row does the work, in the same
# transaction; any other worker finds the row and skips.
job_runs = Table(
    "job_runs",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("job", String(64), nullable=False),
    Column("period", String(64), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("result", Json, nullable=False),
    UniqueConstraint("program_id", "job", "period", name="uq_job_runs_program_job_period"),
)

# `points.expiring` reminders sent, once per lot and lead time.
expiry_reminders = Table(
    "expiry_reminders",
    metadata,
    Column("lot_id", Id, ForeignKey("lots.id"), primary_key=True),
    Column("days_before", Integer, primary_key=True),
    _tenant(),
    Column("sent_at", UTCDateTime, nullable=False),
)

member_tiers = Table(
    "member_tiers",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("tier", String(64), nullable=False),
    Column("reached_at", UTCDateTime, nullable=False),
    # The status holds until `ends_at` (NULL: until re-evaluated); retention is decided then.
    Column("ends_at", UTCDateTime, nullable=True),
    # An admin's assignment: the tier is kept whatever the metric says, until this instant.
    Column("manual_until", UTCDateTime, nullable=True),
    Column("reason", Text, nullable=True),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_member_tiers_program_ends", "program_id", "ends_at"),
)

# A tier perk: one local date a year the member picked, on which their points multiply.
# One row per member and year, never changed once chosen.
member_chosen_days = Table(
    "member_chosen_days",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("year", Integer, primary_key=True),
    _tenant(),
    Column("day", Date, nullable=False),
    Column("chosen_at", UTCDateTime, nullable=False),
)

# Entry rewards: granted once per tier per status period.
tier_entry_rewards = Table(
    "tier_entry_rewards",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    Column("tier", String(64), primary_key=True),
    Column("period", String(64), primary_key=True),
    _tenant(),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
)

# Store credit spent at checkout: what each spend took, and how much of it was refunded.
store_credit_spends = Table(
    "store_credit_spends",
    metadata,
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), primary_key=True),
    _tenant(),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("order_id", String(128), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("refunded", BigInteger, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("amount > 0", name="amount_positive"),
    CheckConstraint("refunded >= 0 AND refunded <= amount", name="refunded_within_amount"),
    Index("ix_store_credit_spends_member", "member_id"),
)


# ---------------------------------------------------------------------------------------
# Growth programs (migration 0003). Each feature keeps its tables in its own section.
# ---------------------------------------------------------------------------------------

# --- segments ---

# Saved filters over a program's members; `filter` is the API form (schemas/segments.py).
segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("filter", Json, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "code", name="uq_segments_program_code"),
)

# Each member's RFM scores (1-5, see domain/segments.rfm_score), recomputed for the whole
# program by the daily `rfm` job: ranking every member reads all the program's orders, too
# much for each write whose rules name an RFM segment.
member_rfm = Table(
    "member_rfm",
    metadata,
    Column("member_id", Id, ForeignKey("members.id"), primary_key=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("recency", Integer, nullable=False),
    Column("frequency", Integer, nullable=False),
    Column("monetary", Integer, nullable=False),
    Column("computed_at", UTCDateTime, nullable=False),
    CheckConstraint(
        "recency BETWEEN 1 AND 5 AND frequency BETWEEN 1 AND 5 AND monetary BETWEEN 1 AND 5",
        name="scores",
    ),
    Index("ix_member_rfm_program", "program_id"),
)

# --- end segments ---

# --- campaigns ---

# A campaign: birthday, anniversary, welcome, bonus, win_back or appreciation. `spec` is its
# API form (offer, timing, segment...), validated by the domain before it is stored.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("spec", Json, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("starts_at", UTCDateTime, nullable=True),
    Column("ends_at", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "code", name="uq_campaigns_program_code"),
)

# What a campaign gave a member, once per (campaign, member, key): the key names the period
# (a birthday's year, a lapse's last order, "welcome"...), so a job run twice, late or
# concurrently never grants twice: the second insert finds the row and gives nothing.
campaign_grants = Table(
    "campaign_grants",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("campaign_id", Id, ForeignKey("campaigns.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("key", String(64), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=True),
    Column("redemption_id", Id, ForeignKey("redemptions.id"), nullable=True),
    Column("granted_at", UTCDateTime, nullable=False),
    UniqueConstraint("campaign_id", "member_id", "key", name="uq_campaign_grants_key"),
    Index("ix_campaign_grants_member", "member_id"),
)

# --- end campaigns ---

# --- referrals ---

# Every member's referral code (given at enrolment, or to all members when the referral
# policy is set); unique per program.
referral_codes = Table(
    "referral_codes",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False, unique=True),
    Column("code", String(16), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "code", name="uq_referral_codes_program_code"),
)

# A friend referred by an advocate (at most one referral per friend). `findings` are the
# fraud checks that fired ([{check, reason}]), `decisions` every status change
# ([{status, reason, note, at}]), both kept for review.
referrals = Table(
    "referrals",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("advocate_member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("friend_member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("code", String(16), nullable=False),
    Column("channel", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("findings", Json, nullable=False),
    Column("decisions", Json, nullable=False),
    Column("qualifying_order_id", Id, ForeignKey("orders.id"), nullable=True),
    Column("qualifies_at", UTCDateTime, nullable=True),
    Column("friend_rewarded_at", UTCDateTime, nullable=True),
    Column("advocate_rewarded_at", UTCDateTime, nullable=True),
    Column("friend_reward", Json, nullable=True),
    Column("advocate_reward", Json, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "friend_member_id", name="uq_referrals_program_friend"),
    CheckConstraint(
        "status IN ('pending', 'qualifying', 'held', 'rewarded', 'rejected', 'void')",
        name="status",
    ),
    Index("ix_referrals_program_status", "program_id", "status", "id"),
    Index("ix_referrals_advocate", "advocate_member_id", "created_at"),
)

# What the referral checks compare: a member's normalised IP, device id and shipping
# address, as seen on events that carried them.
referral_fingerprints = Table(
    "referral_fingerprints",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("value", String(500), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("member_id", "kind", "value", name="uq_referral_fingerprints_member"),
)

# Shares an advocate recorded (the "invited" statistic); Patron sends no email.
referral_invites = Table(
    "referral_invites",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("email", String(320), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("member_id", "email", name="uq_referral_invites_member_email"),
)

# --- end referrals ---

# --- memberships ---

# A paid membership plan; `perks` is the validated JSON of `schemas.memberships.PerksIn`.
membership_plans = Table(
    "membership_plans",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("price_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period", String(16), nullable=False),
    Column("trial_days", Integer, nullable=False),
    Column("grace_days", Integer, nullable=False),
    Column("perks", Json, nullable=False),
    Column("active", Boolean, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "code", name="uq_membership_plans_program_code"),
)

# A member's subscription to a plan, as the store reports it (see domain/memberships.py).
subscriptions = Table(
    "subscriptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("plan_id", Id, ForeignKey("membership_plans.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("status", String(16), nullable=False),
    Column("started_at", UTCDateTime, nullable=False),
    Column("anchor_at", UTCDateTime, nullable=False),
    Column("period_start", UTCDateTime, nullable=False),
    Column("period_end", UTCDateTime, nullable=True),
    Column("trial_end", UTCDateTime, nullable=True),
    Column("grace_until", UTCDateTime, nullable=True),
    Column("cancel_at_period_end", Boolean, nullable=False),
    Column("cancelled_at", UTCDateTime, nullable=True),
    Column("ended_at", UTCDateTime, nullable=True),
    Column("refund_amount", BigInteger, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    Index("ix_subscriptions_program_member", "program_id", "member_id"),
    Index("ix_subscriptions_program_status", "program_id", "status"),
)

# Payments, failed payments and refunds the store reported; a reference is used once per
# program (a reference seen before is refused).
membership_payments = Table(
    "membership_payments",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reference", String(128), nullable=True),
    Column("amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("period_start", UTCDateTime, nullable=True),
    Column("period_end", UTCDateTime, nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "reference", name="uq_membership_payments_program_reference"),
    Index("ix_membership_payments_subscription", "subscription_id"),
)

# Monthly credits and yearly dividends given: one per subscription, kind and period.
membership_credits = Table(
    "membership_credits",
    metadata,
    Column("subscription_id", Id, ForeignKey("subscriptions.id"), primary_key=True),
    Column("kind", String(16), primary_key=True),
    Column("period", String(16), primary_key=True),
    _tenant(),
    Column("amount", BigInteger, nullable=False),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=True),
    Column("created_at", UTCDateTime, nullable=False),
)

# --- end memberships ---

# --- charity ---

# A program's charity catalogue. The donation terms live on each charity (a brand may
# match donations to one cause and not another): points must be a multiple of
# `points_step` and at least `min_points`; the brand adds `matching_percent` % of the value.
charities = Table(
    "charities",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("code", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("description", Text, nullable=True),
    Column("logo_url", String(2048), nullable=True),
    Column("active", Boolean, nullable=False),
    Column("points_step", Integer, nullable=False),
    Column("min_points", BigInteger, nullable=False),
    Column("matching_percent", Integer, nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "code", name="uq_charities_program_code"),
    CheckConstraint("points_step > 0 AND min_points >= 0", name="terms"),
    CheckConstraint("matching_percent >= 0 AND matching_percent <= 100", name="matching"),
)

# One donation: the points moved to `program:{id}:donated` by ledger transaction
# `transaction_id`, and their money value and the brand's matching, fixed when donated.
donations = Table(
    "donations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("public_id", String(32), nullable=False, unique=True),
    Column("member_id", Id, ForeignKey("members.id"), nullable=False),
    Column("charity_id", Id, ForeignKey("charities.id"), nullable=False),
    Column("points", BigInteger, nullable=False),
    Column("value_amount", BigInteger, nullable=False),
    Column("matching_amount", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False),
    Column("transaction_id", Id, ForeignKey("ledger_transactions.id"), nullable=False),
    Column("created_at", UTCDateTime, nullable=False),
    CheckConstraint("points > 0 AND value_amount >= 0 AND matching_amount >= 0", name="amounts"),
    Index("ix_donations_program_created", "program_id", "created_at"),
    Index("ix_donations_member", "member_id", "id"),
)

# --- end charity ---

# --- coalition ---

# Exchange rates fixed per settlement period: 1 unit of the program's currency is `rate`
# units of `currency` (an exact decimal string, never a float). `period` is a period key:
# `2026-Q1`, `2026-01` or `2026`.
exchange_rates = Table(
    "exchange_rates",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    _tenant(),
    Column("program_id", Id, ForeignKey("programs.id"), nullable=False),
    Column("period", String(8), nullable=False),
    Column("currency", String(3), nullable=False),
    Column("rate", String(32), nullable=False),
    Column("updated_at", UTCDateTime, nullable=False),
    UniqueConstraint("program_id", "period", "currency", name="uq_exchange_rates_period"),
)

# --- end coalition ---
