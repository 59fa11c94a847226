"""Serve the test provider: migrate its own database, bind a free loopback port, print the port, serve.

Run by server.OidcProvider; binding port 0 here leaves no gap in which another process could take it."""

import os


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "testsupport.oidc_provider.settings")
    import django

    django.setup()
    from django.core.management import call_command
    from django.core.servers.basehttp import ThreadedWSGIServer, WSGIRequestHandler
    from django.core.wsgi import get_wsgi_application

    call_command("migrate", verbosity=0, interactive=False)
    server = ThreadedWSGIServer(("127.0.0.1", 0), WSGIRequestHandler)
    server.set_app(get_wsgi_application())
    print(server.server_address[1], flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
