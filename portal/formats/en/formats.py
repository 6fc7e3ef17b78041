"""How the admin writes dates and times: one format, the time zone always shown.

Only display formats: what a person may type (input formats) stays Django's English default.
"""

DATETIME_FORMAT = "Y-m-d H:i T"
# A time alone follows a date and time that named the zone ("until 09:30"), never "9:30 a.m.".
TIME_FORMAT = "H:i"
SHORT_DATETIME_FORMAT = DATETIME_FORMAT
DATE_FORMAT = "Y-m-d"
SHORT_DATE_FORMAT = DATE_FORMAT
