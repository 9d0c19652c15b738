"""Coalition settlement: what each brand of a coalition owes or is owed for a period.

The model (money in minor units of the program's currency unless said otherwise):

* **Funding.** A brand funds the points it issues at the program's point value:
  ``funding = value(issued)``, where `issued` is the points credited from the brand's
  `brand:{id}:issued` account in the period, net of the points clawed back into it by
  refunds (so it can be negative in a period with more reversals than earnings).
* **Payments.** A brand is paid for the rewards it honours at the same point value:
  ``payments = value(redeemed)``, `redeemed` being the points of redemptions recorded at
  the brand in the period, net of cancellations.
* **Breakage by issuer.** Points a brand issued that expired in the period will never be
  redeemed: their funding goes back to the issuer, ``breakage = value(expired)``.
* **Net.** ``net = payments + breakage - funding``; positive: the brand receives money,
  negative: it pays.
* **The pool.** Points issued but not (yet) redeemed or expired are a liability the
  coalition pool (the program) holds: it keeps the funding of such points until they are
  redeemed (it then pays the redeeming brand) or expire (it refunds the issuer). The pool
  is a party of its own with ``pool.net = -sum(brand nets)``: negative when it pays out
  more than it takes in (points funded in earlier periods, or granted by the program itself
  — adjustments, tier rewards — being redeemed now). So the statement always balances:
  ``sum(brand nets) + pool.net == 0`` exactly; the pool also takes the rounding remainders.
* **Rounding.** ``value(points) = points * point_value_amount / point_value_points``,
  rounded half to even to a whole minor unit, once per figure of each brand.
* **Currencies.** The statement settles in the program's currency. A brand with its own
  currency also sees each of its figures converted at the period's fixed rate (`Rate`:
  own-currency minor units per program-currency minor unit), each rounded half to even on
  its own; the transfers stay in the program's currency.
* **Transfers.** The nets are settled by a short list of payer -> payee transfers: the
  largest payer pays the largest payee until both are settled (ties by name). Every
  party ends at zero, nobody both pays and receives, and there are at most
  ``parties with a non-zero net - 1`` transfers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from patron.domain.calendar import parse_period
from patron.domain.errors import InvalidInput

#: The settlement party that is not a brand: the program, holding outstanding points.
POOL: str | None = None

#: Rates are decimal strings with at most this many digits after the point.
RATE_DECIMALS = 12


@dataclass(frozen=True, slots=True)
class PointValue:
    """`points` points are worth `amount` minor units of the program's currency."""

    points: int
    amount: int

    def of(self, points: int) -> int:
        """The money value of `points` (may be negative), rounded half to even."""
        return round(Fraction(points * self.amount, self.points))


@dataclass(frozen=True, slots=True)
class Rate:
    """A fixed exchange rate: `per_minor` own-currency minor units per program minor unit."""

    currency: str
    per_minor: Fraction

    def convert(self, amount: int) -> int:
        """`amount` program minor units in the rate's currency, rounded half to even."""
        return round(amount * self.per_minor)


def parse_rate(text: str, *, field: str) -> Decimal:
    """A rate given as a decimal string (units of the other currency per unit of the
    program's): positive, finite, at most `RATE_DECIMALS` decimals. InvalidInput otherwise."""
    try:
        value = Decimal(text)
    except (InvalidOperation, TypeError):
        raise InvalidInput(f"rate {text!r} is not a decimal number", field=field) from None
    if not value.is_finite() or value <= 0:
        raise InvalidInput(f"rate {text!r} must be a positive number", field=field)
    exponent = value.as_tuple().exponent
    if isinstance(exponent, int) and -exponent > RATE_DECIMALS:
        raise InvalidInput(f"rate {text!r} has more than {RATE_DECIMALS} decimals", field=field)
    if value >= Decimal(10) ** 9:
        raise InvalidInput(f"rate {text!r} is absurdly large", field=field)
    return value


def minor_rate(currency: str, major_rate: Decimal, program_minor: int, own_minor: int) -> Rate:
    """The `Rate` of a major-unit rate (1 program unit = `major_rate` own units), given
    how many minor units make a major unit in each currency (USD 100, JPY 1)."""
    return Rate(currency, Fraction(major_rate) * own_minor / program_minor)


@dataclass(frozen=True, slots=True)
class BrandActivity:
    """A brand's points in the period."""

    brand: str
    issued: int
    redeemed: int
    expired: int
    #: None: the brand uses the program's currency.
    rate: Rate | None = None


@dataclass(frozen=True, slots=True)
class Figures:
    """Funding, payments, breakage and net in one currency (minor units)."""

    currency: str
    funding: int
    payments: int
    breakage: int
    net: int


@dataclass(frozen=True, slots=True)
class BrandLine:
    brand: str
    issued: int
    redeemed: int
    expired: int
    program: Figures
    #: The same figures in the brand's own currency (equal to `program` when it has none).
    own: Figures


@dataclass(frozen=True, slots=True)
class PoolLine:
    """The program's line: points issued minus redeemed minus expired in the period by
    the brands (the change of the outstanding liability it holds), and its net."""

    outstanding_change: int
    net: int


@dataclass(frozen=True, slots=True)
class Transfer:
    """`payer` pays `payee` `amount` (program minor units); None names the pool."""

    payer: str | None
    payee: str | None
    amount: int


@dataclass(frozen=True, slots=True)
class Statement:
    currency: str
    brands: tuple[BrandLine, ...]
    pool: PoolLine
    transfers: tuple[Transfer, ...]

    @property
    def total(self) -> int:
        """The sum of every party's net: always 0."""
        return sum(line.program.net for line in self.brands) + self.pool.net


def settle(activities: Sequence[BrandActivity], value: PointValue, currency: str) -> Statement:
    """The statement of `activities` (one per brand) in the program's `currency`."""
    lines = tuple(_line(activity, value, currency) for activity in activities)
    pool_net = -sum(line.program.net for line in lines)
    outstanding = sum(a.issued - a.redeemed - a.expired for a in activities)
    nets: dict[str | None, int] = {line.brand: line.program.net for line in lines}
    nets[POOL] = pool_net
    return Statement(currency, lines, PoolLine(outstanding, pool_net), net_transfers(nets))


def _line(activity: BrandActivity, value: PointValue, currency: str) -> BrandLine:
    funding = value.of(activity.issued)
    payments = value.of(activity.redeemed)
    breakage = value.of(activity.expired)
    figures = Figures(currency, funding, payments, breakage, payments + breakage - funding)
    return BrandLine(
        brand=activity.brand,
        issued=activity.issued,
        redeemed=activity.redeemed,
        expired=activity.expired,
        program=figures,
        own=figures if activity.rate is None else _converted(figures, activity.rate),
    )


def _converted(figures: Figures, rate: Rate) -> Figures:
    return Figures(
        rate.currency,
        funding=rate.convert(figures.funding),
        payments=rate.convert(figures.payments),
        breakage=rate.convert(figures.breakage),
        net=rate.convert(figures.net),
    )


def net_transfers(nets: Mapping[str | None, int]) -> tuple[Transfer, ...]:
    """Transfers that bring every party's net to zero (nets must sum to zero): the largest
    payer pays the largest payee, repeatedly; ties broken by name (the pool first)."""
    if sum(nets.values()) != 0:
        raise ValueError(f"nets do not balance: {dict(nets)}")
    owing = {name: -net for name, net in nets.items() if net < 0}
    owed = {name: net for name, net in nets.items() if net > 0}
    transfers: list[Transfer] = []
    while owing and owed:
        payer = min(owing, key=lambda name: _order(name, owing))
        payee = min(owed, key=lambda name: _order(name, owed))
        amount = min(owing[payer], owed[payee])
        transfers.append(Transfer(payer, payee, amount))
        for side, name in ((owing, payer), (owed, payee)):
            side[name] -= amount
            if not side[name]:
                del side[name]
    return tuple(transfers)


def _order(name: str | None, amounts: Mapping[str | None, int]) -> tuple[int, str]:
    """Largest amount first; ties by name, the pool first."""
    return (-amounts[name], "" if name is None else f"~{name}")


@dataclass(frozen=True, slots=True)
class StatementPeriod:
    """A settlement period: local dates [start, end) and the rate keys it reads, most
    specific first (a month falls back to its quarter's, then its year's rates)."""

    key: str
    start: date
    end: date
    rate_keys: tuple[str, ...]


def statement_period(key: str, *, field: str = "period") -> StatementPeriod:
    """Parse `2026`, `2026-Q1` or `2026-01` (`calendar.parse_period`); InvalidInput naming
    `field` otherwise."""
    window = parse_period(key, field=field)
    year = key[:4]
    if "-Q" in key:
        wider: tuple[str, ...] = (year,)
    elif "-" in key:
        wider = (f"{year}-Q{(window.first.month - 1) // 3 + 1}", year)
    else:
        wider = ()
    return StatementPeriod(key, window.first, window.after, (key, *wider))
