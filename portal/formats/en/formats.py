"""How the admin writes dates and times: one format, the time zone always shown.

Only display formats: what a person may type (input formats) stays Django's English default.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
