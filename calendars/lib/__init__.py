"""Small plumbing shared by the app: no domain rules, no HTTP to Meeting BaaS."""
