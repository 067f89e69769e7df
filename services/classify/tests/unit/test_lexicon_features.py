"""The hand-written topic lexicon and the IDF-weighted navec block (feature code, no artefact)."""

import pickle

import numpy as np
import pytest
from veche_classify.domain.embeddings import WeightedEmbedding
from veche_classify.domain.lexicon import LEXICON_FILE, LexiconFeatures, read_lexicon
from veche_classify.domain.taxonomy import load_taxonomy
from veche_classify.domain.text import normalise
from veche_shared.taxonomy import TAXONOMY_FILE


@pytest.fixture(scope="module")
def lexicon_features():
    return LexiconFeatures(soft=True).fit([])


def test_lexicon_covers_every_topic_with_enough_entries():
    lexicon = read_lexicon(LEXICON_FILE)
    codes = load_taxonomy(TAXONOMY_FILE).codes
    assert [c for c in lexicon if not c.startswith("urgency:")] == list(codes)
    for code in codes:
        assert len(lexicon[code]) >= 80, code
    assert {"urgency:critical", "urgency:high", "urgency:low"} <= set(lexicon)


def test_entries_are_lemmatised_so_inflected_words_and_phrases_hit(lexicon_features):
    names = lexicon_features.categories_
    text = normalise("Чиновник вымогал взятку, налицо конфликт интересов")
    hits = np.expm1(lexicon_features.transform([text])[0, : len(names)])
    corruption = hits[names.index("corruption")]
    # вымогать, взятка, конфликт интересов (phrase) and чиновник are all corruption entries
    assert corruption >= 4
    assert corruption == hits.max()


def test_soft_hits_score_a_synonym_missing_from_the_lexicon(lexicon_features):
    names = lexicon_features.categories_
    n = len(names)
    # «овчарка» is not in the lexicon; navec puts it next to «собака», «пёс»
    row = lexicon_features.transform([normalise("овчарка")])[0]
    assert row[:n].sum() == 0
    soft_max = row[2 * n :]
    assert names[int(np.argmax(soft_max[:20]))] == "animals"


def test_word_cache_is_not_pickled(lexicon_features):
    lexicon_features.transform([normalise("вышка сотовой связи не работает")])
    assert lexicon_features._cache
    restored = pickle.loads(pickle.dumps(lexicon_features))
    assert restored._cache == {}
    text = [normalise("нет интернета")]
    assert np.array_equal(restored.transform(text), lexicon_features.transform(text))


def test_weighted_embedding_is_unit_length_and_zero_without_known_words():
    texts = [normalise(t) for t in ("яма на дороге", "яма во дворе", "оптоволокно провели")]
    block = WeightedEmbedding(max_pool=True).fit(texts)
    out = block.transform([*texts, "ъъъ ыыы"])
    assert out.shape == (4, 600)
    assert np.allclose(np.linalg.norm(out[:3, :300], axis=1), 1.0, atol=1e-5)
    assert not out[3].any()
    # «яма» is in two of three texts, «дорога» in one: the rarer word weighs more
    assert block.idf_["дорога"] > block.idf_["яма"]
