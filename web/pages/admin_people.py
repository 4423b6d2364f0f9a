"""Admin pages for people and organisation: 用户 (/admin/users) and 部门 (/admin/departments)."""
