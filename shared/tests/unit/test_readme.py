"""The README's configuration table lists every setting of every service, and nothing else."""

import re
from pathlib import Path

from veche_classify.settings import ClassifySettings
from veche_ingest.settings import IngestSettings
from veche_notify.settings import NotifySettings
from veche_route.settings import RouteSettings

README = Path(__file__).resolve().parents[3] / "README.md"


def test_configuration_table_matches_the_settings_classes():
    documented = set(re.findall(r"^\| `(VECHE_[A-Z0-9_]+)` \|", README.read_text(), re.MULTILINE))
    fields = {
        f"VECHE_{name.upper()}"
        for settings in (IngestSettings, ClassifySettings, RouteSettings, NotifySettings)
        for name in settings.model_fields
    }
    assert documented == fields


def test_readme_starts_with_exactly_the_two_commands():
    first_block = README.read_text().split("```")[1]
    commands = [line.split("#")[0].strip() for line in first_block.splitlines()[1:] if line.strip()]
    assert commands == ["make up", "make test"]
