import pytest
from veche_route.domain.routing import Router
from veche_route.settings import RouteSettings


@pytest.fixture(scope="session")
def router() -> Router:
    settings = RouteSettings()
    return Router.from_files(
        settings.region_file, settings.rules_file, settings.receiving_body, settings.terms_file
    )
