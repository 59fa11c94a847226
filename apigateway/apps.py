"""App config for the AWS API Gateway key backend (KEYS_BACKEND=aws); it has no models of its own."""

from django.apps import AppConfig


class ApiGatewayConfig(AppConfig):
    name = "apigateway"
