"""What HR reads: the status board and a unit's detail, the audit log, failed emails. The competence
plan and its review are in aarshjul/usecases/planning/.
"""
