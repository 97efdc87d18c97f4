"""``--embedding PROVIDER``: the embedding provider of ``kestrel import`` and ``search``."""

from __future__ import annotations

import json
from typing import Any

import click

from ..embeddings.base import EmbeddingProvider, available_providers, provider_from_config
from ..schema import MAX_DIM


def parse_provider(spec: str) -> EmbeddingProvider:
    """Build an embedding provider from ``--embedding``.

    ``hash[:DIMENSION]``, ``openai[:MODEL]``, ``sentence-transformers[:MODEL_OR_PATH]``,
    any other registered ``NAME[:MODEL]``, or a JSON config object such as
    ``{"name": "openai", "model": "nomic-embed-text", "base_url": "http://localhost:11434/v1",
    "api_key_env": null}``.

    Raises:
        click.BadParameter: the spec cannot be read, or names no known provider.
        ConfigError, MissingDependencyError: the provider cannot be built.
    """
    spec = spec.strip()
    if spec.startswith("{"):
        try:
            given = json.loads(spec)
        except json.JSONDecodeError as exc:
            raise click.BadParameter(
                f"not a JSON object ({exc.msg})", param_hint="--embedding"
            ) from None
        if not isinstance(given, dict):
            raise click.BadParameter("not a JSON object", param_hint="--embedding")
        return provider_from_config(given)
    name, _, arg = spec.partition(":")
    known = available_providers()
    if name not in known:
        raise click.BadParameter(
            f"unknown provider {name!r}; use one of {', '.join(known)} (as NAME or NAME:MODEL), "
            "or a JSON config",
            param_hint="--embedding",
        )
    config: dict[str, Any] = {"name": name}
    if name == "hash":
        if arg:
            if not arg.isdigit() or not 1 <= int(arg) <= MAX_DIM:
                raise click.BadParameter(
                    f"hash takes a dimension (hash:64), got {arg!r}", param_hint="--embedding"
                )
            config["dimension"] = int(arg)
    elif arg:
        config["model"] = arg
    return provider_from_config(config)


__all__ = ["parse_provider"]
