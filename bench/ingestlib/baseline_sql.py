"""The statements of the hand-written baseline transaction, on Patron's own tables.

Single events: BEGIN; event; balance; transaction; entries; COMMIT -- six round
trips. Batches (`--bulk`): one transaction per batch, one statement per table, the
balances locked in member order first (so concurrent batches cannot deadlock).
"""

from __future__ import annotations

#: Single events: one statement per round trip (`%s` parameters, psycopg).
SINGLE = {
    "event": (
        "INSERT INTO events (tenant_id, program_id, source, type, source_id, brand_id,"
        " member_id, payload, occurred_at, received_at)"
        " VALUES (%s, %s, 'baseline', 'order.paid', %s, %s, %s, %s, %s, %s)"
        " ON CONFLICT DO NOTHING RETURNING id"
    ),
    "balance": (
        "UPDATE member_balances SET available = available + %s,"
        " lifetime_earned = lifetime_earned + %s WHERE member_id = %s AND asset = 'points'"
    ),
    "transaction": (
        "INSERT INTO ledger_transactions (tenant_id, program_id, member_id, kind, event_id,"
        " api_key_id, details, occurred_at, created_at)"
        " VALUES (%s, %s, %s, 'earn', %s, %s, '{}', %s, %s) RETURNING id"
    ),
    "entries": (
        "INSERT INTO ledger_entries (transaction_id, tenant_id, account, asset, amount,"
        " member_id) VALUES (%s, %s, %s, 'points', %s, NULL), (%s, %s, %s, 'points', %s, %s)"
    ),
}


#: Batches: the events, balances and ledger rows of a whole batch per statement.
BATCH = {
    "lock": (
        "SELECT member_id FROM member_balances WHERE member_id = ANY(%s) AND asset = 'points'"
        " ORDER BY member_id FOR UPDATE"
    ),
    "events": (
        "INSERT INTO events (tenant_id, program_id, source, type, source_id, brand_id,"
        " member_id, payload, occurred_at, received_at)"
        " SELECT %s, %s, 'baseline', 'order.paid', u.source_id, %s, u.member_id,"
        " u.payload::jsonb, %s, %s FROM unnest(%s::text[], %s::bigint[], %s::text[])"
        " AS u(source_id, member_id, payload)"
        " ON CONFLICT DO NOTHING RETURNING id, member_id, source_id"
    ),
    "balances": (
        "UPDATE member_balances AS b SET available = b.available + u.points,"
        " lifetime_earned = b.lifetime_earned + u.points"
        " FROM (SELECT member_id, sum(points) AS points"
        " FROM unnest(%s::bigint[], %s::bigint[]) AS t(member_id, points) GROUP BY member_id)"
        " AS u WHERE b.member_id = u.member_id AND b.asset = 'points'"
    ),
    "transactions": (
        "INSERT INTO ledger_transactions (tenant_id, program_id, member_id, kind, event_id,"
        " api_key_id, details, occurred_at, created_at)"
        " SELECT %s, %s, u.member_id, 'earn', u.event_id, %s, '{}', %s, %s"
        " FROM unnest(%s::bigint[], %s::bigint[]) AS u(event_id, member_id)"
        " RETURNING id, member_id, event_id"
    ),
    "entries": (
        "INSERT INTO ledger_entries (transaction_id, tenant_id, account, asset, amount,"
        " member_id) SELECT u.tx, %s, u.account, 'points', u.amount, u.member_id"
        " FROM unnest(%s::bigint[], %s::text[], %s::bigint[], %s::bigint[])"
        " AS u(tx, account, amount, member_id)"
    ),
}
