"""The error hierarchy: stable codes, fields and messages."""

from __future__ import annotations

import pytest

from pixelsprite.errors import BundleError, ImageError, InvalidRequest, PixelspriteError, UnknownModel


@pytest.mark.parametrize(
    ("cls", "code"),
    [
        (PixelspriteError, "internal"),
        (InvalidRequest, "invalid_request"),
        (ImageError, "invalid_image"),
        (BundleError, "bundle_error"),
    ],
)
def test_codes(cls: type[PixelspriteError], code: str) -> None:
    e = cls("boom", field="x")
    assert isinstance(e, PixelspriteError)
    assert e.code == code
    assert e.to_dict() == {"code": code, "message": "boom", "field": "x"}
    assert str(e) == "boom"


def test_unknown_model_lists_names() -> None:
    e = UnknownModel("nope", ["b", "a"])
    assert e.code == "unknown_model"
    assert e.field == "model"
    assert e.message == "unknown model 'nope'; available models: a, b"
    assert "none" in UnknownModel("x", []).message
