"""Outages of Meeting BaaS, seen once by every process: a circuit breaker kept in the database.

`breaker` decides whether a call may go out (the transport asks it before every attempt) and
says since when Meeting BaaS is unreachable; the window sync's scheduler
(calendars/meetings/sync.py) takes the catch-up once it answers again.
"""
