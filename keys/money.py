"""Money as whole nanos (10⁻⁹ of TOLLGATE_CURRENCY): exact integers in every store, Decimals on every page."""

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

NANOS = 10**9
PRICE_PLACES = 6  # prices and budgets: at most this many decimal places
_MICRO = Decimal(10**PRICE_PLACES)


class MoneyError(ValueError):
    """An amount that is not a price or budget Tollgate accepts; the message says why."""


def money_parse(value: object, *, allow_zero: bool = True) -> Decimal:
    """A number or decimal string as an exact Decimal, refusing floats' noise, signs and excess places."""
    if isinstance(value, bool) or not isinstance(value, int | float | str | Decimal):
        raise MoneyError("must be a number or a decimal string")
    try:
        amount = Decimal(str(value).strip()) if not isinstance(value, Decimal) else value
    except InvalidOperation:
        raise MoneyError("must be a number or a decimal string") from None
    if not amount.is_finite():
        raise MoneyError("must be a finite number")
    if amount < 0 or (amount == 0 and not allow_zero):
        raise MoneyError("must be more than zero" if not allow_zero else "must not be negative")
    if amount.as_tuple().exponent < -PRICE_PLACES and amount != amount.quantize(Decimal(1).scaleb(-PRICE_PLACES)):
        raise MoneyError(f"has more than {PRICE_PLACES} decimal places")
    return amount


def to_nanos(amount: Decimal | None) -> int | None:
    """An amount of at most 9 decimal places as whole nanos; None stays None."""
    if amount is None:
        return None
    return int(amount.scaleb(9).to_integral_exact())


def from_nanos(nanos: int) -> Decimal:
    """Whole nanos as a Decimal, with no more places than it needs and at least two."""
    amount = Decimal(nanos).scaleb(-9).normalize()
    return amount.quantize(Decimal("0.01")) if amount.as_tuple().exponent > -2 else amount


def money_text(nanos: int | None) -> str | None:
    """Whole nanos as the decimal string the API answers; None stays None."""
    return None if nanos is None else format(from_nanos(nanos), "f")


@dataclass(frozen=True, slots=True)
class Price:
    """A model's price: per million input and output tokens (in micro-units), and per request (in nanos)."""

    input_micro: int = 0
    output_micro: int = 0
    request_nanos: int = 0

    @classmethod
    def from_decimals(
        cls, input_per_million: Decimal | None, output_per_million: Decimal | None, per_request: Decimal | None
    ) -> "Price | None":
        price = cls(
            int((input_per_million or 0) * _MICRO),
            int((output_per_million or 0) * _MICRO),
            to_nanos(per_request or Decimal(0)),
        )
        return price if price != FREE else None

    @property
    def per_token(self) -> bool:
        return bool(self.input_micro or self.output_micro)

    def cost(self, prompt_tokens: int, completion_tokens: int, *, most: bool = False) -> int:
        """The cost in nanos. Tokens cost picos (tokens × micro-units per million); the sum is rounded
        half up to nanos, or up when `most` (a reservation is never below the cost it settles to)."""
        picos = prompt_tokens * self.input_micro + completion_tokens * self.output_micro
        nanos = -(-picos // 1000) if most else (picos + 500) // 1000
        return self.request_nanos + nanos


FREE = Price()
