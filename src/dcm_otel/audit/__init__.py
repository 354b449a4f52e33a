"""The audit store: logins, login failures and refused requests kept in the app's database, bounded, for
``manage.py dcm_audit_report`` (docs/audit.md), which reads them with the admin's own ``LogEntry``."""
