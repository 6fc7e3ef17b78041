"""The Meeting BaaS plan's limits (MEETINGBAAS_BOTS_PER_DAY, MEETINGBAAS_MAX_CALENDARS), seen
before they bite: read-only counts and their words."""
