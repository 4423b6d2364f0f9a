"""What every part of the domain shares: the declarative Base and tables, the vocabularies,
domain errors, ports, command schemas, editable settings, the per-transaction memo, accounts
and the SQL date helpers."""
