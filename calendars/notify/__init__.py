"""Support told what broke: a digest by e-mail and a chat webhook when something new needs a
person (`digest.py`)."""
