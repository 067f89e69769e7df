pytest_plugins = ["veche_shared.testing.fixtures"]
