"""Schemathesis hooks for the contract fuzz: one check of our own beside the built-in ones."""

import schemathesis


@schemathesis.check
def validation_agrees_with_the_spec(ctx, response, case) -> None:
    """Data the spec calls valid is never refused by request validation (code
    `invalid_request`): the spec is as strict as the service. Refusals of state or of
    cross-field rules carry their own codes (see schemathesis.toml)."""
    meta = getattr(case, "meta", None)
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    try:
        code = response.json().get("error", {}).get("code")
    except ValueError:
        code = None
    if code == "invalid_request":
        raise AssertionError(f"spec-valid data refused by validation: {response.text[:500]}")
