"""pymilvus's ``AnnSearchRequest``: one route of a hybrid search."""

from __future__ import annotations

from typing import Any

from ..search import AnnRequest


class AnnSearchRequest:
    """``AnnSearchRequest(data, anns_field, param, limit, expr=None, expr_params=None)``."""

    def __init__(
        self,
        data: Any,
        anns_field: str,
        param: dict[str, Any] | None,
        limit: int,
        expr: str | None = None,
        expr_params: dict[str, Any] | None = None,
        **kwargs: Any,
    ):
        self.data = data
        self.anns_field = anns_field
        self.param = dict(param or {})
        self.limit = limit
        self.expr = expr
        self.expr_params = expr_params

    def to_request(self) -> AnnRequest:
        return AnnRequest(
            data=self.data,
            anns_field=self.anns_field,
            limit=self.limit,
            filter=self.expr or "",
            filter_params=self.expr_params,
            search_params=self.param,
        )


__all__ = ["AnnSearchRequest"]
