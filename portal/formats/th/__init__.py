"""Thai formats."""
