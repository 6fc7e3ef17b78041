"""Read-only views of the portal's records: the home page, timelines and exports, diagnosis."""
