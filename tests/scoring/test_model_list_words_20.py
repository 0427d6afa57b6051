"""Issue 20 (page walk, part E): the model list and upload pages in one language — the training command shown as
the code it is, explained in words; the upload form's file named in words, not MODEL.json."""

from __future__ import annotations

import re
from typing import Any

import pytest

from factories import PASSWORD

EN = {"HTTP_ACCEPT_LANGUAGE": "en"}
ZH = {"HTTP_ACCEPT_LANGUAGE": "zh-hans"}
_ALLOWED = {"creditplan", "JSON", "CSV", "Excel", "AUC", "KS"}


def _main(html: str) -> str:
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    main = re.sub(r"<(code|script|style|select)\b.*?</\1>", " ", main, flags=re.S)
    return re.sub(r"<[^>]+>", " ", main)


@pytest.mark.parametrize("path", ["/models/", "/models/upload/"])
def test_the_chinese_model_pages_hold_no_english_outside_code(client: Any, bank: Any, path: str) -> None:
    assert client.login(username="risk", password=PASSWORD)
    page = client.get(path, **ZH).content.decode()
    latin = {w for w in re.findall(r"[A-Za-z][A-Za-z_\-.]*[A-Za-z]", _main(page))
             if w not in _ALLOWED and not (w.isupper() and len(w) <= 4)}  # HTML, PDF: as the page walk allows
    assert not latin, latin


def test_the_training_command_is_code_and_explained_in_words(client: Any, bank: Any) -> None:
    assert client.login(username="risk", password=PASSWORD)
    zh = client.get("/models/", **ZH).content.decode()
    assert "<code>creditplan model train --data FILE --target COLUMN --bad VALUE --out MODEL.json</code>" in zh
    assert "标明贷款是否违约的列" in zh
    en = _main(client.get("/models/", **EN).content.decode())
    assert "the column that says whether a loan went bad" in en
