"""What HR reads: the status board and a unit's detail, the competence plan and its exports, the union
representatives' review of the plan, the audit log, failed emails.
"""
