"""A demand comes in: contacts, phone numbers, follow-ups, candidate repeats, ticket numbers,
and the intake pipeline that runs normalise → classify → locate → route → open."""
