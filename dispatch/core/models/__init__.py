"""The domain's core tables, by purpose: `tickets` (a ticket, its assignments, clocks,
delegated steps, events and contacts), `people` (users, tokens and the audits of what they
did) and `reference` (categories, settings, the calendar, the triage model's versions).
Import them from here: `from dispatch.core.models import Ticket`."""

from __future__ import annotations

from dispatch.core.models.people import (
    AdminChange,
    ApiToken,
    IdempotencyKey,
    PersonalDataRead,
    User,
)
from dispatch.core.models.reference import CalendarDay, Category, ClassifierModel, Setting
from dispatch.core.models.tickets import (
    Assignment,
    Contact,
    Delegation,
    Event,
    Extension,
    Suspension,
    Ticket,
    TicketCounter,
)

__all__ = [
    "AdminChange",
    "ApiToken",
    "Assignment",
    "CalendarDay",
    "Category",
    "ClassifierModel",
    "Contact",
    "Delegation",
    "Event",
    "Extension",
    "IdempotencyKey",
    "PersonalDataRead",
    "Setting",
    "Suspension",
    "Ticket",
    "TicketCounter",
    "User",
]
