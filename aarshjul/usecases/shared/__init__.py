"""What every capability of the use cases shares: the organisation snapshot, bulk writes and audit,
queued mail, a cycle's stored definition, who may read talk notes.
"""
