"""Admin page for the audit: 审计 (/admin/audit)."""
