VERSION = (6, 1, 0)
__version__ = ".".join(str(part) for part in VERSION)
