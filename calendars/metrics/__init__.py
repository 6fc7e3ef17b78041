"""/metrics for the people who run the portal (Prometheus and Grafana).

- `views`: the endpoint and its token;
- `collector`: every family, read at each scrape from counts the portal keeps (never a count of
  a big table);
- `queue`: django-q2's queue, on either broker;
- `observers` and `totals`: what processes count (Meeting BaaS requests, webhook deliveries,
  bot attempts), added to database totals every METRICS_FLUSH_SECONDS, so that any web host's
  /metrics tells the whole deployment;
- `names`: those totals' names and histogram buckets.
"""
