"""Anymail's own benchmarks: how the cost of our code grows with the work it is given.

``python -m benchmarks`` (from the repository root, in a venv with ``.[all]`` installed) runs
three workloads, each case in a fresh subprocess so no case's memory shows in another's:

* ``send``: one batch send of N recipients with merge data through each ESP's real backend, to
  a fake ESP on 127.0.0.1 (:mod:`benchmarks.fake_esp`, in its own process so its work isn't
  counted as ours). CPU, peak Python memory and request bytes.
* ``webhooks``: N tracking events posted to each ESP's tracking view with Django's test client.
  CPU, per post and per event, and peak Python memory.
* ``inbound``: one inbound message with a 1 to 40 MB attachment through Django's WSGIHandler.
  Peak RSS and CPU.

Each result table ends with the curve's growth exponent (:func:`benchmarks.report.growth_exponent`)
and flags anything worse than linear. Not part of the test suite: timings don't belong in tests.
See ``docs/performance.rst`` for the results and how to read them.
"""
