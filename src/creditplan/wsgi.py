"""The WSGI application (`creditplan serve` runs gunicorn on it; so may an operator, directly).

It refuses to load without the keys a server needs (creditplan.web.checks): gunicorn then stops with the message
naming each missing key, instead of serving with keys anyone could compute.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "creditplan.settings")
application = get_wsgi_application()

from creditplan.web.checks import refuse_unsafe_start  # noqa: E402 - needs the apps loaded just above

refuse_unsafe_start()
