"""No models: the module is here so that Django sends post_migrate to PortalConfig (see apps.py)."""
