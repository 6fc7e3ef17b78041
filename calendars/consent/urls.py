from django.urls import path

from calendars.consent import views

urlpatterns = [
    # Before the token route: "callback" is not a token.
    path("callback/", views.callback, name="consent-callback"),
    path("<str:token>/", views.open_link, name="consent-link"),
    path("<str:token>/<str:provider>/", views.start, name="consent-start"),
]
