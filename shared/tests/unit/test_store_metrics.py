from veche_shared.store_metrics import collection_of, statements_of


def test_the_collection_is_read_from_the_command_name_or_a_get_more():
    assert collection_of("insert", {"insert": "appeals", "documents": []}) == "appeals"
    assert collection_of("getMore", {"getMore": 12345, "collection": "timeline"}) == "timeline"
    assert collection_of("ping", {"ping": 1}) == ""
    assert collection_of("find", {"find": 7}) == ""  # not a name: never a value in a label


def test_only_write_commands_carry_statements():
    assert statements_of("insert", {"insert": "a", "documents": [{}, {}]}) == 2
    assert statements_of("update", {"update": "a", "updates": [{}]}) == 1
    assert statements_of("delete", {"delete": "a", "deletes": [{}, {}, {}]}) == 3
    assert statements_of("find", {"find": "a", "filter": {}}) == 0
