"""/account/webhooks/: a user's own endpoints, their signing secrets and the latest deliveries."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from webhooks import selectors, services
from webhooks.forms import EndpointForm


@never_cache  # the page shows signing secrets
@login_required
@require_http_methods(["GET", "POST"])
def webhooks(request: HttpRequest) -> HttpResponse:
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        services.endpoint_create(owner=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"])
        messages.success(request, _("Endpoint added. Events are signed with the secret shown beside it."))
        return redirect("webhooks")
    context = {
        "form": form,
        "endpoints": selectors.endpoint_list(owner=request.user),
        "deliveries": selectors.delivery_list(owner=request.user),
    }
    return render(request, "webhooks/webhooks.html", context, status=400 if form.errors else 200)


@login_required
@require_POST
def webhook_delete(request: HttpRequest, pk: int) -> HttpResponse:
    if services.endpoint_delete(owner=request.user, pk=pk):
        messages.success(request, _("Endpoint deleted."))
    return redirect("webhooks")
