"""Task work: a person opens a task from its link, saves drafts, submits or amends the form; what the
submission projects into rows later steps point at; the talk's time; HR's decision on a measure.
"""
