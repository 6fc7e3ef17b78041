"""HTTP that is not the admin: the Meeting BaaS webhook receiver and /healthz."""
