// Tell the portal the viewer's time zone, so that its pages write times as the viewer's clock
// reads them (calendars/lib/time_zones.py). Each time still names its zone.
"use strict";
{
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  // As it is: Django reads cookies without decoding them, and IANA names need no encoding.
  const cookie = "portal_time_zone=" + zone;
  if (zone && !document.cookie.split("; ").includes(cookie)) {
    document.cookie = cookie + "; path=/; max-age=31536000; SameSite=Lax";
  }
}
