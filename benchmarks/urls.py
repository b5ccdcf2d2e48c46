"""The benchmarks' urlconf: Anymail's webhook urls, where a project would put them."""

from django.urls import include, path

urlpatterns = [path("anymail/", include("anymail.urls"))]
