"""The portal's `manage.py qcluster` (management/commands/qcluster.py).

An app of its own, listed before django_q so that its command takes the place of django-q2's;
`calendars` itself stays after django_q (its roles are built from django_q's permissions).
"""
