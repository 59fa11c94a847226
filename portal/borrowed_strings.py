"""Words Tollgate's pages show but do not write: Django's and allauth's where their Thai lacks them, and the seed
plans' descriptions. Listed so makemessages copies them into locale/th (searched first). Never imported."""

from django.utils.translation import gettext_noop, ngettext_lazy

# django.utils.timesince: "3 days, 2 hours ago" on the keys page and "expires in …".
TIMESINCE = (
    ngettext_lazy("%(num)d year", "%(num)d years", "num"),
    ngettext_lazy("%(num)d month", "%(num)d months", "num"),
    ngettext_lazy("%(num)d week", "%(num)d weeks", "num"),
    ngettext_lazy("%(num)d day", "%(num)d days", "num"),
    ngettext_lazy("%(num)d hour", "%(num)d hours", "num"),
    ngettext_lazy("%(num)d minute", "%(num)d minutes", "num"),
    gettext_noop(", "),
)

# django.contrib.auth's password validators, whose help allauth's sign-up and password pages show.
PASSWORD_HELP = (
    gettext_noop("Your password can’t be too similar to your other personal information."),
    ngettext_lazy(
        "Your password must contain at least %(min_length)d character.",
        "Your password must contain at least %(min_length)d characters.",
        "min_length",
    ),
    gettext_noop("Your password can’t be a commonly used password."),
    gettext_noop("Your password can’t be entirely numeric."),
    ngettext_lazy(
        "This password is too short. It must contain at least %d character.",
        "This password is too short. It must contain at least %d characters.",
        "min_length",
    ),
    gettext_noop("The password is too similar to the %(verbose_name)s."),
    gettext_noop("This password is too common."),
    gettext_noop("This password is entirely numeric."),
)

# allauth's Thai leaves these half in English, or garbled (its password-reset mail most of all).
ALLAUTH = (
    gettext_noop("Authenticator App"),
    gettext_noop("Activate Authenticator App"),
    gettext_noop("Deactivate Authenticator App"),
    gettext_noop("Authenticator app activated."),
    gettext_noop("Authenticator app deactivated."),
    gettext_noop("Authenticator App Activated"),
    gettext_noop("Authenticator App Deactivated"),
    gettext_noop("Confirm Access"),
    gettext_noop("Invalid token."),
    gettext_noop("Bad Token"),
    gettext_noop("The password reset token was invalid."),
    gettext_noop(
        "You're receiving this email because you or someone else has requested a password reset for your user "
        "account.\nIt can be safely ignored if you did not request a password reset. Click the link below to reset "
        "your password."
    ),
    gettext_noop(
        "If you do not recognize this change then please take proper security precautions immediately. The change "
        "to your account originates from:\n\n- IP address: %(ip)s\n- Browser: %(user_agent)s\n- Date: %(timestamp)s"
    ),
)

# The seed plans' descriptions (keys/migrations/0002): pages translate a description while staff leave it as seeded.
PLAN_DESCRIPTIONS = (
    gettext_noop("For trying things out."),
    gettext_noop("For light daily use."),
    gettext_noop("For regular daily use."),
)
