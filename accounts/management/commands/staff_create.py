"""manage.py staff_create: a staff user (superuser) who signs in by email, as `make superuser` runs it."""

import getpass
import os
import sys

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from accounts.services import StaffUserExists, staff_user_create

EMAIL_ENV, PASSWORD_ENV = "DJANGO_SUPERUSER_EMAIL", "DJANGO_SUPERUSER_PASSWORD"


class Command(BaseCommand):
    help = (
        f"Create a staff user who signs in by email. Asks for the email and password, "
        f"or reads {EMAIL_ENV} and {PASSWORD_ENV} (with --noinput, or when both are set)."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--noinput", "--no-input", action="store_true", help=f"read {EMAIL_ENV}/{PASSWORD_ENV}")

    def handle(self, *args, noinput: bool, **options) -> None:
        email, password = os.environ.get(EMAIL_ENV, ""), os.environ.get(PASSWORD_ENV, "")
        if noinput or (email and password):
            if not (email and password):
                raise CommandError(f"--noinput needs {EMAIL_ENV} and {PASSWORD_ENV} set.")
            self._create(email, password)
            return
        if not sys.stdin.isatty():
            raise CommandError(f"No terminal to ask on: set {EMAIL_ENV} and {PASSWORD_ENV}, or run it in a terminal.")
        while True:
            email = email or input("Email (you sign in with it): ").strip()
            password = getpass.getpass("Password: ")
            if password != getpass.getpass("Password (again): "):
                self.stderr.write("The passwords differ. Try again.")
                continue
            try:
                self._create(email, password)
                return
            except BadEmail as exc:
                self.stderr.write(str(exc))
                email = ""
            except CommandError as exc:
                self.stderr.write(str(exc))

    def _create(self, email: str, password: str) -> None:
        try:
            validate_email(email.strip())
        except ValidationError as exc:
            raise BadEmail(f"{email!r} is not an email address.") from exc
        try:
            user = staff_user_create(email=email, password=password)
        except StaffUserExists as exc:
            raise BadEmail(f"A user with the email {exc} exists already.") from exc
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Staff user {user.email} created: sign in at /accounts/login/, the admin is /admin/.")
        )


class BadEmail(CommandError):
    """The email cannot be used: ask for another."""
