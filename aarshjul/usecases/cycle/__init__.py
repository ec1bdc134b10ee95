"""The cycle engine: start (or preview, or clone) a year's cycle, advance it, the time-driven sweep
(reminders, escalations, evaluations, follow-ups, HR's weekly summary), close or cancel it.
"""
