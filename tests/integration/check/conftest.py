from tests.simweb.fixtures import simweb  # noqa: F401
