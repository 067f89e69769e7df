import pytest
from veche_classify.app import build_triage
from veche_classify.settings import ClassifySettings


@pytest.fixture(scope="session")
def triage():
    """The shipped artefact, loaded once for the whole unit suite (NER off: rules only)."""
    return build_triage(ClassifySettings(ner="off"))
