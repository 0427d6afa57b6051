"""Django-aware helpers below every app: what users read (translated problem texts), shared by all pages."""
