"""The REST API under /api/v1 (CONTRACT.md): one module per area; routes parse, call one
domain function, commit and render."""
