"""Reading the log: newest first, by keyset on (time, id), one user's rows unless staff ask for all."""

from django.db.models import Q, QuerySet

from requestlog.forms import Cursor
from requestlog.models import FIELDS, RequestLog

# What users, the API and the CSV see of a row (the user and team are who asked, not shown back).
PUBLIC_FIELDS = [f for f in FIELDS if f not in ("user_id", "team_id")]
CSV_CHUNK = 2_000


def request_filter(
    *,
    user_id: int | None,
    key: str = "",
    model: str = "",
    status: int | None = None,
    refusal: str = "",
    request_id: str = "",
    since=None,
    until=None,
) -> QuerySet:
    """The rows that match, newest first; `user_id` None means everyone's (staff only)."""
    rows = RequestLog.objects.all()
    if user_id is not None:
        rows = rows.filter(user_id=user_id)
    if key:
        rows = rows.filter(key_prefix=key)
    if model:
        rows = rows.filter(model=model)
    if status is not None:
        rows = rows.filter(status=status)
    if refusal:
        rows = rows.filter(refusal=refusal)
    if request_id:
        rows = rows.filter(request_id=request_id)
    if since is not None:
        rows = rows.filter(time__gte=since)
    if until is not None:
        rows = rows.filter(time__lt=until)
    return rows.order_by("-time", "-id")


def request_page(*, rows: QuerySet, cursor: Cursor | None, limit: int) -> tuple[list[dict], Cursor | None]:
    """One page of `rows` after `cursor`, and the cursor of the next page (None on the last)."""
    if cursor is not None:
        # The plain `time <=` bound lets the index (and partition pruning) do the work; the OR settles ties.
        rows = rows.filter(time__lte=cursor.time).filter(Q(time__lt=cursor.time) | Q(id__lt=cursor.id))
    page = list(rows.values("id", *PUBLIC_FIELDS)[: limit + 1])
    more = len(page) > limit
    page = page[:limit]
    return page, (Cursor(page[-1]["time"], page[-1]["id"]) if more else None)
