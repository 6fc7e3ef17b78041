"""Consent links: a customer's person grants calendar access through Google's or Microsoft's
OAuth, and the portal keeps the refresh token without anyone handling it.

links: making, finding and revoking links. providers: what each provider is asked. flow: the
authorization-code exchange with PKCE. grants: what a grant changes. views and mail: the
public pages and the e-mail.
"""
