"""The `hotline` command (CONTRACT.md)."""
