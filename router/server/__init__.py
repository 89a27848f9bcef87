"""The composition root of the running service: nothing in the core imports it.

- ``app.py``: the aiohttp app factory, which builds every component from the
  settings and ties their lifecycles to the app (the console and the
  connectors are plugged in here, and only here);
- ``serve.py``: ``omnirouter run``, which loads the config and serves the app;
- ``settings.py``: loading ``omnirouter.yaml``, each connector section checked
  by its connector's own options;
- ``startup.py``: where a start's seconds go.
"""
