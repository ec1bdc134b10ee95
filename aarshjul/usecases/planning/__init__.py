"""The competence plan as the municipality governs it: the plan document and its exports (read models
kept here because the use cases freeze and hash that very document), the versions of the plan
(draft → in consultation → adopted), the consultation with the union representatives, adoption,
HR's organisation-wide measures and merges, cost and funding, the union reviewers' comments, and the
yearly status.
"""
