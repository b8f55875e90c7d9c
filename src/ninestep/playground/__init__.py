"""``ninestep playground``: a local web page that trains the real network while you watch.

Needs the optional extra ``ninestep[playground]`` (Starlette, uvicorn);
nothing in the core imports this package.

Modules, from the page inwards:

* ``static/`` - the page: ``index.html``, ``app.js`` (controls, URL, the
  frame loop), ``draw.js`` (painting only), ``style.css``; plain ES modules,
  no build step, nothing fetched from the internet.
* :mod:`.server` - the Starlette routes, nothing else.
* :mod:`.session` - one :class:`~.session.Session` per tab: the data, the
  split, the scalers, the Network and its optimiser, trained one
  ``fit(epochs=1)`` at a time with ``ninestep train``'s seeds.
* :mod:`.views` - what a frame holds (heat maps, unit thumbnails, dead
  units, gradient sizes, the nine steps with their shapes).
* :mod:`.export` - the model file, the data, the ``ninestep train`` command
  line and a Python script of the run.
* :mod:`.settings` - the URL's settings, their limits, the presets.

See docs/playground.md.
"""
