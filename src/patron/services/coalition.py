"""Coalition programs: brands join and leave, exchange rates fixed per period, and the
settlement statement of a period (the arithmetic is `domain.settlement`; this module
reads the period's activity from the ledger, in SQL).

Where each figure comes from (ledger transactions of the program whose `occurred_at`
falls in the period, in the program's time zone; points only, not store credit):

* issued: minus the sum of the entries on each brand's `brand:{id}:issued` account
  (earnings out of it, refund reversals back into it);
* redeemed: the entries on `program:{id}:redeemed` (redemptions in, cancellations out),
  by the brand that honours the redemption (`redemptions.brand_id`; NULL: the default);
* expired: the member-side entries of `expire` transactions (one per lot), by the brand
  whose `brand:{id}:issued` account funded the transaction that created the lot. Points
  that came from elsewhere (an adjustment, a cancelled redemption's refund) have no
  issuing brand: their breakage stays with the pool.
"""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, delete, func, insert, select, text, update

from patron.db import tables as t
from patron.db.uow import UnitOfWork
from patron.domain.calendar import start_of_day
from patron.domain.errors import InvalidInput, NotFound
from patron.domain.ledger import POINTS, TxKind, brand_issued, program_account
from patron.domain.money import minor_units_per_major, validate_currency
from patron.domain.program import Program
from patron.domain.settlement import (
    BrandActivity,
    Figures,
    PointValue,
    Rate,
    Statement,
    StatementPeriod,
    minor_rate,
    parse_rate,
    settle,
    statement_period,
)
from patron.schemas.brands import BrandView
from patron.schemas.coalition import (
    BrandLineView,
    BrandUpdate,
    FiguresView,
    PoolView,
    RatesIn,
    RatesView,
    SignedMoney,
    StatementView,
    TransferView,
)
from patron.schemas.members import LedgerTransactionView, MemberView
from patron.services.brands import brand_view, sees_brand
from patron.services.context import Caller

#: At most this many currencies per period.
MAX_RATES = 50


# --- brands join and leave -------------------------------------------------------------


def update_brand(
    uow: UnitOfWork, caller: Caller, code: str, spec: BrandUpdate, now: datetime
) -> BrandView:
    """Rename a brand, set its own currency, or make it leave (`left: true`, from `now`)
    or re-join (`left: false`). A brand that left can no longer issue points; the points
    its members hold stay valid and redeemable at the other brands. Not for brand keys
    (the admin scope, which the route requires, refuses them)."""
    brand = uow.tenants.get_brand(caller.tenant_id, code)
    if brand is None:
        raise NotFound(f"no brand {code!r}", field="brand_code")
    changes: dict[str, Any] = {}
    if spec.name is not None:
        changes["name"] = spec.name
    if "currency" in spec.model_fields_set:
        changes["currency"] = spec.currency
    if spec.left is not None:
        # leaving twice keeps the first date; re-joining clears it
        changes["left_at"] = (brand.left_at or now) if spec.left else None
    if changes:
        uow.connection.execute(update(t.brands).where(t.brands.c.id == brand.id).values(changes))
    return brand_view(brand).model_copy(update=changes)


# --- exchange rates ----------------------------------------------------------------------


def put_rates(
    uow: UnitOfWork, program: Program, period: str, rates: RatesIn, now: datetime
) -> RatesView:
    """Fix the period's exchange rates: the given set replaces the period's previous one.
    422 for a bad period, currency or rate (naming it), or the program's own currency."""
    statement_period(period)
    given = rates.root
    if len(given) > MAX_RATES:
        raise InvalidInput(f"at most {MAX_RATES} currencies per period", field="rates")
    checked: dict[str, str] = {}
    for currency, given_rate in sorted(given.items()):
        _check_currency(currency, program)
        checked[currency] = str(parse_rate(given_rate, field=currency))
    table = t.exchange_rates
    uow.connection.execute(
        delete(table).where(table.c.program_id == program.id, table.c.period == period)
    )
    if checked:
        uow.connection.execute(
            insert(table),
            [
                {
                    "tenant_id": program.tenant_id,
                    "program_id": program.id,
                    "period": period,
                    "currency": currency,
                    "rate": rate,
                    "updated_at": now,
                }
                for currency, rate in checked.items()
            ],
        )
    return get_rates(uow, program, period)


def _check_currency(currency: str, program: Program) -> None:
    if currency == program.currency:
        raise InvalidInput(f"{currency} is the program's own currency", field=currency)
    try:
        validate_currency(currency)
    except InvalidInput:
        raise InvalidInput(f"unknown currency {currency!r}", field=currency) from None


def get_rates(uow: UnitOfWork, program: Program, period: str) -> RatesView:
    """The rates fixed for exactly `period` (none: an empty set)."""
    statement_period(period)
    table = t.exchange_rates
    rows = uow.connection.execute(
        select(table.c.currency, table.c.rate, table.c.updated_at)
        .where(table.c.program_id == program.id, table.c.period == period)
        .order_by(table.c.currency)
    ).all()
    return RatesView(
        period=period,
        currency=program.currency,
        rates={row.currency: row.rate for row in rows},
        updated_at=max((row.updated_at for row in rows), default=None),
    )


def _period_rates(uow: UnitOfWork, program: Program, period: StatementPeriod) -> dict[str, str]:
    """The rate of each currency for `period`: its own, else its quarter's, else its year's."""
    table = t.exchange_rates
    rows = uow.connection.execute(
        select(table.c.period, table.c.currency, table.c.rate).where(
            table.c.program_id == program.id, table.c.period.in_(period.rate_keys)
        )
    ).all()
    rates: dict[str, str] = {}
    for key in reversed(period.rate_keys):  # the most specific period wins
        rates |= {row.currency: row.rate for row in rows if row.period == key}
    return rates


# --- settlement statement ------------------------------------------------------------------


def settlement_statement(uow: UnitOfWork, program: Program, period_key: str) -> StatementView:
    """The settlement statement of `period_key` (`2026-Q1`, `2026-01`, `2026`) for every
    brand of the tenant. 422 naming the currency when a brand's currency has no rate."""
    period = statement_period(period_key)
    if uow.dialect == "postgresql":
        # a report of many cheap index lookups that the planner costs high: compiling it
        # with JIT took 10x longer than running it (measured at 500k ledger entries)
        uow.connection.execute(text("SET LOCAL jit = off"))
    starts = start_of_day(period.start, program.zone)
    ends = start_of_day(period.end, program.zone)
    brands = uow.tenants.list_brands(program.tenant_id)
    rates = _period_rates(uow, program, period)
    window = (starts, ends)
    accounts = {brand_issued(brand.id): brand.id for brand in brands}
    issued = _issued(uow, program, accounts, window)
    redeemed = _redeemed(uow, program, brands[0].id, window)
    expired = _expired(uow, program, accounts, window)
    activities = [
        BrandActivity(
            brand=brand.code,
            issued=issued.get(brand.id, 0),
            redeemed=redeemed.get(brand.id, 0),
            expired=expired.get(brand.id, 0),
            rate=_rate(program, brand.currency, rates),
        )
        for brand in brands
    ]
    value = PointValue(program.point_value_points, program.point_value_amount)
    statement = settle(activities, value, program.currency)
    used = {brand.currency for brand in brands if brand.currency not in (None, program.currency)}
    return _view(statement, period, starts, ends, value, {c: rates[c] for c in sorted(used)})


def _rate(program: Program, currency: str | None, rates: dict[str, str]) -> Rate | None:
    if currency is None or currency == program.currency:
        return None
    if currency not in rates:
        raise InvalidInput(
            f"no exchange rate for {currency} in this period: PUT it first", field=currency
        )
    major = Decimal(rates[currency])
    return minor_rate(
        currency, major, minor_units_per_major(program.currency), minor_units_per_major(currency)
    )


def _in_window(window: tuple[datetime, datetime]) -> Any:
    tx = t.ledger_transactions
    return and_(tx.c.occurred_at >= window[0], tx.c.occurred_at < window[1])


def _issued(
    uow: UnitOfWork, program: Program, accounts: dict[str, int], window: tuple[datetime, datetime]
) -> dict[int, int]:
    """Points issued per brand id (`accounts`: brand id by issued account), net of reversals."""
    e, tx = t.ledger_entries, t.ledger_transactions
    rows = uow.connection.execute(
        select(e.c.account, func.sum(e.c.amount))
        .join(tx, tx.c.id == e.c.transaction_id)
        .where(
            tx.c.program_id == program.id,
            _in_window(window),
            e.c.asset == POINTS,
            e.c.account.in_(list(accounts)),
        )
        .group_by(e.c.account)
    ).all()
    return {accounts[account]: -int(total) for account, total in rows}


def _redeemed(
    uow: UnitOfWork, program: Program, default_brand: int, window: tuple[datetime, datetime]
) -> dict[int, int]:
    """Points redeemed per honouring brand id, net of cancellations."""
    e, tx, r = t.ledger_entries, t.ledger_transactions, t.redemptions
    rows = uow.connection.execute(
        select(r.c.brand_id, func.sum(e.c.amount))
        .select_from(e)
        .join(tx, tx.c.id == e.c.transaction_id)
        .join(r, r.c.id == tx.c.redemption_id)
        .where(
            tx.c.program_id == program.id,
            _in_window(window),
            e.c.asset == POINTS,
            e.c.account == program_account(program.id, "redeemed"),
        )
        .group_by(r.c.brand_id)
    ).all()
    totals: dict[int, int] = defaultdict(int)
    for brand_id, total in rows:
        totals[brand_id or default_brand] += int(total)
    return dict(totals)


def _expired(
    uow: UnitOfWork, program: Program, accounts: dict[str, int], window: tuple[datetime, datetime]
) -> dict[int, int]:
    """Points expired per issuing brand id: each expired lot's creating transaction names
    the brand account that funded it."""
    e, tx, lots = t.ledger_entries, t.ledger_transactions, t.lots
    source = t.ledger_entries.alias("source")
    issuer = (
        select(func.min(source.c.account))
        .where(
            source.c.transaction_id == lots.c.transaction_id,
            source.c.asset == POINTS,
            source.c.account.in_(list(accounts)),
        )
        .scalar_subquery()
    )
    per_lot = (
        select(issuer.label("issuer"), (-e.c.amount).label("points"))
        .select_from(e)
        .join(tx, tx.c.id == e.c.transaction_id)
        .join(lots, lots.c.id == e.c.lot_id)
        .where(
            tx.c.program_id == program.id,
            tx.c.kind == TxKind.EXPIRE.value,
            _in_window(window),
            e.c.asset == POINTS,
            e.c.amount < 0,
        )
        .subquery()
    )
    rows = uow.connection.execute(
        select(per_lot.c.issuer, func.sum(per_lot.c.points)).group_by(per_lot.c.issuer)
    ).all()
    # issuer None: points no brand issued (adjustments...), the pool's breakage
    return {accounts[account]: int(total) for account, total in rows if account is not None}


def _view(
    statement: Statement,
    period: StatementPeriod,
    starts: datetime,
    ends: datetime,
    value: PointValue,
    rates: dict[str, str],
) -> StatementView:
    currency = statement.currency

    def money(amount: int, in_currency: str = currency) -> SignedMoney:
        return SignedMoney(amount=amount, currency=in_currency)

    def figures(f: Figures) -> FiguresView:
        return FiguresView(
            funding=money(f.funding, f.currency),
            payments=money(f.payments, f.currency),
            breakage=money(f.breakage, f.currency),
            net=money(f.net, f.currency),
        )

    return StatementView(
        period=period.key,
        starts_at=starts,
        ends_at=ends,
        currency=currency,
        point_value=money(value.amount),
        point_value_points=value.points,
        rates=rates,
        brands=[
            BrandLineView(
                brand=line.brand,
                currency=line.own.currency,
                issued=line.issued,
                redeemed=line.redeemed,
                expired=line.expired,
                program_currency=figures(line.program),
                own_currency=figures(line.own),
            )
            for line in statement.brands
        ],
        pool=PoolView(
            outstanding_change=statement.pool.outstanding_change, net=money(statement.pool.net)
        ),
        transfers=[
            TransferView(payer=tr.payer, payee=tr.payee, amount=money(tr.amount))
            for tr in statement.transfers
        ],
        total=money(statement.total),
    )


# --- what a brand key sees of a member's ledger ------------------------------------------


def member_for_caller(uow: UnitOfWork, caller: Caller, view: MemberView) -> MemberView:
    """A member view as the caller may see it (its recent ledger through `brand_ledger`)."""
    if caller.brand_id is None:
        return view
    return view.model_copy(update={"recent_ledger": brand_ledger(uow, caller, view.recent_ledger)})


def brand_ledger(
    uow: UnitOfWork, caller: Caller, views: list[LedgerTransactionView]
) -> list[LedgerTransactionView]:
    """A member's ledger as the caller may see it: for a brand key, the transactions of
    another brand's orders or redemptions keep their points and entries (the member's
    balance is shared) but lose their `details` and `reason` (order ids, lines, rules)."""
    if caller.brand_id is None or not views:
        return views
    tx, orders, r = t.ledger_transactions, t.orders, t.redemptions
    rows = uow.connection.execute(
        select(tx.c.id, orders.c.brand_id, r.c.brand_id.label("honoured_by"), r.c.id.label("r"))
        .select_from(tx)
        .outerjoin(orders, orders.c.id == tx.c.order_id)
        .outerjoin(r, r.c.id == tx.c.redemption_id)
        .where(tx.c.id.in_([view.id for view in views]))
    ).all()
    foreign = {
        row.id
        for row in rows
        if (row.brand_id is not None and row.brand_id != caller.brand_id)
        or (row.r is not None and not sees_brand(caller, row.honoured_by))
    }
    return [
        view.model_copy(update={"details": {}, "reason": None}) if view.id in foreign else view
        for view in views
    ]


# --- the statement as CSV ------------------------------------------------------------------

CSV_COLUMNS = (
    "kind", "party", "payee", "currency", "issued", "redeemed", "expired",
    "funding", "payments", "breakage", "net",
    "own_currency", "own_funding", "own_payments", "own_breakage", "own_net",
)  # fmt: skip


def statement_csv(view: StatementView) -> str:
    """The statement as CSV, amounts in minor units: a `brand` row per brand, the `pool`
    row, then a `transfer` row per transfer (`party` pays `payee` `net`; `pool` names the
    pool)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for line in view.brands:
        amounts = [
            figures.amount
            for part in (line.program_currency, line.own_currency)
            for figures in (part.funding, part.payments, part.breakage, part.net)
        ]
        counts = [line.issued, line.redeemed, line.expired]
        party = ["brand", line.brand, "", view.currency]
        writer.writerow([*party, *counts, *amounts[:4], line.currency, *amounts[4:]])
    pool = view.pool
    writer.writerow(["pool", "", "", view.currency, "", "", "", "", "", "", pool.net.amount])
    for transfer in view.transfers:
        payer, payee = transfer.payer or "pool", transfer.payee or "pool"
        blanks = [""] * 6
        writer.writerow(["transfer", payer, payee, view.currency, *blanks, transfer.amount.amount])
    return out.getvalue()
