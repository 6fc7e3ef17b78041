from django.urls import path

from calendars.consent import views

urlpatterns = [
    # Before the token route: "callback" and "retry" are not tokens.
    path("callback/", views.callback, name="consent-callback"),
    path("retry/", views.retry, name="consent-retry"),
    path("<str:token>/", views.open_link, name="consent-link"),
    path("<str:token>/<str:provider>/", views.start, name="consent-start"),
]
