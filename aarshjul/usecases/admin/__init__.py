"""HR administration: sign-in and API tokens, the organisation and strategy imports, deadlines,
reassignment and reminders, revoking a link.
"""
