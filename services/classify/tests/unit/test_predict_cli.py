import io
import json

from veche_classify.cli import predict_stream
from veche_classify.settings import ClassifySettings


def test_predict_writes_one_line_per_input_in_order_even_for_bad_lines():
    lines = [
        {"id": 1, "text": "На дороге огромные ямы"},
        {"id": "b", "text": "В подъезде пахнет газом"},
    ]
    stdin = io.StringIO(
        "\n".join(json.dumps(x, ensure_ascii=False) for x in lines) + "\nnot json\n"
    )
    stdout = io.StringIO()
    assert predict_stream(ClassifySettings(), stdin, stdout) == 3
    out = [json.loads(x) for x in stdout.getvalue().splitlines()]
    assert [o["id"] for o in out] == [1, "b", None]
    assert out[0]["topic"] == "roads"
    assert out[1]["urgency"] == "critical"
    assert set(out[0]) == {"id", "topic", "urgency", "confidence"}
    assert "error" in out[2]
