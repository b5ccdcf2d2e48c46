from pathlib import Path

from setuptools import find_packages, setup

here = Path(__file__).parent
version: dict = {}
exec((here / "anymail" / "_version.py").read_text(), version)

# Each ESP gets an extra, so `pip install django-anymail[mailgun]` works for every ESP,
# and adding a dependency later needs no change in users' requirements.
esp_extras = {
    "amazon_ses": ["boto3", "cryptography"],  # cryptography: SNS signature checks
    "mailgun": [],
    "mailjet": [],
    "mandrill": [],
    "postmark": [],
    "sendgrid": [],
    "sendinblue": [],
    "sparkpost": ["sparkpost"],
}

setup(
    name="django-anymail",
    version=version["__version__"],
    description=(
        "Django email backends and webhooks for Amazon SES, Mailgun, Mailjet, Mandrill, "
        "Postmark, SendGrid, SendinBlue and SparkPost"
    ),
    long_description=(here / "README.rst").read_text(encoding="utf-8"),
    long_description_content_type="text/x-rst",
    keywords="Django, email, email backend, ESP, transactional mail, webhooks, inbound",
    author="Anymail contributors (see AUTHORS.txt)",
    license="BSD-3-Clause",
    packages=find_packages(exclude=["tests", "tests.*", "example", "example.*"]),
    include_package_data=True,
    python_requires=">=3.10",
    install_requires=["django>=4.2", "requests>=2.4.3"],
    extras_require={
        **esp_extras,
        "all": sorted({package for packages in esp_extras.values() for package in packages}),
        "test": ["hypothesis", "boto3", "cryptography", "sparkpost", "moto[s3,ses,sns]"],
    },
    classifiers=[
        "Development Status :: 5 - Production/Stable",
        "Framework :: Django",
        "Framework :: Django :: 4.2",
        "Framework :: Django :: 5.2",
        "Framework :: Django :: 6.0",
        "Intended Audience :: Developers",
        "License :: OSI Approved :: BSD License",
        "Operating System :: OS Independent",
        "Programming Language :: Python :: 3",
        "Programming Language :: Python :: 3 :: Only",
        "Programming Language :: Python :: 3.10",
        "Programming Language :: Python :: 3.11",
        "Programming Language :: Python :: 3.12",
        "Programming Language :: Python :: 3.13",
        "Topic :: Communications :: Email",
        "Topic :: Software Development :: Libraries :: Python Modules",
    ],
)
