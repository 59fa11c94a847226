"""The query strings of the usage page and export, checked as forms: odd digits and NUL bytes are refused here."""

from django import forms

from usage.selectors import MAX_DAYS

PAGE_DAYS = 30


class UsageFilter(forms.Form):
    """The page's filters. An invalid one is ignored, as a key id that is not the user's is."""

    key = forms.RegexField(regex=r"^[0-9]{1,18}$", required=False)
    model = forms.CharField(max_length=128, required=False, strip=False)  # refuses NUL bytes itself

    def filters(self) -> tuple[int | None, str | None]:
        self.is_valid()
        key, model = self.cleaned_data.get("key"), self.cleaned_data.get("model")
        return (int(key) if key else None), (model or None)


class ExportQuery(forms.Form):
    days = forms.RegexField(regex=r"^[0-9]{1,3}$", required=False)

    def days_or_none(self) -> int | None:
        """The days asked for (PAGE_DAYS if none), or None if not a whole number from 1 to MAX_DAYS."""
        if not self.is_valid():
            return None
        days = int(self.cleaned_data["days"] or PAGE_DAYS)
        return days if 1 <= days <= MAX_DAYS else None
