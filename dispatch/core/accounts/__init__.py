"""Users, password login and bearer tokens, by purpose: `users` (the checks of a user's fields,
creating, changing, resetting, finding), `signin` (the password check, a user's own password
change, ending sessions, enabling and disabling, bearer tokens) and `user_import` (a users
sheet). Import them from here: `from dispatch.core import accounts`."""

from __future__ import annotations

from dispatch.core.accounts.signin import (
    MIN_PASSWORD,
    authenticate,
    end_sessions,
    issue_token,
    set_active,
    set_password,
    user_for_token,
)
from dispatch.core.accounts.user_import import USER_HEADINGS, NewUser, import_users
from dispatch.core.accounts.users import (
    DEPARTMENT_ROLES,
    EDITABLE,
    EXTENSION,
    MAX_DISPLAY_NAME,
    NEEDS_DEPARTMENT,
    TEMPORARY_ALPHABET,
    USERNAME,
    UserFilter,
    UserPage,
    actor_for,
    create_user,
    find_users,
    record_unlock,
    reset_password,
    temporary_password,
    update_user,
    user_record,
)

__all__ = [
    "DEPARTMENT_ROLES", "EDITABLE", "EXTENSION", "MAX_DISPLAY_NAME", "MIN_PASSWORD",
    "NEEDS_DEPARTMENT", "TEMPORARY_ALPHABET", "USERNAME", "USER_HEADINGS", "NewUser",
    "UserFilter", "UserPage", "actor_for", "authenticate", "create_user", "end_sessions",
    "find_users", "import_users", "issue_token", "record_unlock", "reset_password",
    "set_active", "set_password", "temporary_password", "update_user", "user_for_token",
    "user_record",
]
