import pytest
from veche_route.domain.territory import Method, words_of


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("В Алексине на ул. Мира яма", "aleksin"),
        ("Алексинский район, д. Петровка", "aleksin"),
        ("в Алексинском районе не убирают снег", "aleksin"),
        ("г. Новомосковск, ул. Садовая, 5", "novomoskovsk"),
        ("в Новомосковском районе", "novomoskovsk"),
        ("в Богородицке", "bogoroditsk-district"),
        ("Щёкинский муниципальный район", "shchyokino-district"),
        ("в Ясногорском муниципальном округе", "yasnogorsk-district"),
        ("в Венёве", "venev-district"),
        # a city district vs a town of the same stem: Тула's Советский округ, Щёкино's Советск
        ("в Советском районе Тулы", "tula"),
        ("в Советске", "shchyokino-district"),
        # the former Ленинский район is part of Тула since 2014
        ("в Ленинском районе", "tula"),
        # names that are also words, surnames or streets count only after a marker
        ("г. Донской", "donskoy"),
        ("пос. Славный", "slavny"),
        ("г. Тула, ул. Плеханова", "tula"),
        ("Тула, Алексинское шоссе, 5", "tula"),
    ],
)
def test_settlements_and_districts_in_any_form(router, text, code):
    hits = router.territory.hits(text)
    assert hits.most_common(1)[0][0] == code, hits


@pytest.mark.parametrize(
    "text",
    [
        "на Советском проспекте",  # a street, not Советск
        "Ленинский проспект, 3",
        "ул. Дмитрия Донского, 7",  # a street named after a person
        "славный город, хорошие люди",
        "Пишу из Тульской области, деревня не указана",  # the region, not its capital
    ],
)
def test_streets_common_words_and_the_region_name_are_not_places(router, text):
    assert not router.territory.hits(text)


def test_morphology_finds_forms_the_data_does_not_list(router):
    index = router.territory
    for text, code in [
        ("по Алексинскому муниципальному району", "aleksin"),
        ("Иншинское поселение", "tula"),  # «иншинское» is not in the data
    ]:
        words = tuple(words_of(text))
        assert not any(words[i:] in index.exact for i in range(len(words)))
        assert index.hits(text).most_common(1)[0][0] == code


def test_address_is_trusted_before_the_text(router):
    found = router.territory.locate(
        address="г. Новомосковск, ул. Садовая", text="Раньше жил в Алексине, теперь переехал"
    )
    assert found.municipality.code == "novomoskovsk"
    assert found.method is Method.ADDRESS
    assert found.flags == ()


def test_mentions_come_before_the_free_text(router):
    found = router.territory.locate(
        address=None, mentions=["Богородицк"], text="Родом из Алексина, пишу про дорогу"
    )
    assert (found.municipality.code, found.method) == ("bogoroditsk-district", Method.MENTIONS)


def test_coordinates_fall_back_to_the_nearest_centroid_with_a_flag(router):
    found = router.territory.locate(address=None, text="Яма у дома", point=(54.51, 37.07))
    assert found.municipality.code == "aleksin"
    assert found.flags == ("territory_from_coordinates",)


def test_unknown_territory_is_flagged_never_an_error(router):
    moscow = (55.75, 37.62)
    found = router.territory.locate(address="", text="Яма у моего дома", point=moscow)
    assert found.municipality is None
    assert found.flags == ("territory_unresolved",)
