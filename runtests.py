#!/usr/bin/env python
"""Run Anymail's tests with Django's test runner.

    python runtests.py                       # everything
    python runtests.py tests.test_base_backend tests.test_message   # some modules

Tests tagged "live" call real ESP APIs; they are skipped unless ANYMAIL_RUN_LIVE_TESTS=1.
Ends with one line: "N passed, N failed, N skipped".
"""

import os
import sys
import warnings

import django
from django.conf import settings
from django.test.runner import DiscoverRunner


class SummaryRunner(DiscoverRunner):
    """Django's runner, plus a closing count line that CI (and people) can read at a glance."""

    def suite_result(self, suite, result, **kwargs):
        failed = len(result.failures) + len(result.errors) + len(result.unexpectedSuccesses)
        skipped = len(result.skipped) + len(result.expectedFailures)
        passed = result.testsRun - failed - skipped
        # On stderr, after unittest's own report there, so the two never interleave
        sys.stderr.flush()
        print(f"\n{passed} passed, {failed} failed, {skipped} skipped", file=sys.stderr, flush=True)
        return super().suite_result(suite, result, **kwargs)


def main(test_labels):
    # Show Anymail's own deprecation warnings, but not Django's about the tests' use of its
    # older mail API (get_connection, connection=), which Anymail must keep supporting.
    warnings.simplefilter("default")
    from django.utils import deprecation

    for name in dir(deprecation):
        if name.startswith("RemovedInDjango"):
            warnings.filterwarnings("ignore", category=getattr(deprecation, name))
    settings.configure(
        SECRET_KEY="anymail-tests-not-secret",
        INSTALLED_APPS=[
            "django.contrib.contenttypes",
            "django.contrib.auth",
            "anymail",
        ],
        DATABASES={"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": ":memory:"}},
        ROOT_URLCONF="tests.urls",
        USE_TZ=True,
        TIME_ZONE="America/Los_Angeles",
        EMAIL_BACKEND="anymail.backends.test.EmailBackend",
        DEFAULT_FROM_EMAIL="from@example.com",
        MIDDLEWARE=[],
        LOGGING_CONFIG=None,
    )
    django.setup()
    exclude_tags = set() if os.environ.get("ANYMAIL_RUN_LIVE_TESTS") else {"live"}
    runner = SummaryRunner(verbosity=1, exclude_tags=exclude_tags)
    failures = runner.run_tests(test_labels or ["tests"])
    return 1 if failures else 0


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    sys.exit(main(sys.argv[1:]))
