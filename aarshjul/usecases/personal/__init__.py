"""A person's own data: the copy of what is stored about them, a follow-up written about them, a new
link to their open tasks.
"""
